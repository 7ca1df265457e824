"""Identifier parsing and the wire form (ACS-WIRE.md §3). Pure functions: no database."""

import pytest

from callauto.errors import BadRequest, NotSupported
from calls.identifiers import Identifier, parse_identifier, parse_phone_value, parse_raw_id

PHONE = "+14255550123"
USER = "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000005-dc0f-5a5e-85f4-343a0d00a2f1"


def message(exc_info: pytest.ExceptionInfo) -> str:
    return str(exc_info.value.detail)


def test_a_phone_identifier_without_kind_is_inferred_from_the_nested_object():
    identifier = parse_identifier({"phoneNumber": {"value": PHONE}}, "targets[0]")

    assert identifier == Identifier.phone(PHONE)
    assert identifier.kind == "phoneNumber"
    assert identifier.phone_number == PHONE


def test_a_phone_identifier_as_the_sdk_sends_it_is_accepted():
    wire = {"rawId": f"4:{PHONE}", "phoneNumber": {"value": PHONE}}

    assert parse_identifier(wire, "targets[0]") == Identifier.phone(PHONE)


def test_a_phone_identifier_with_only_a_raw_id_is_inferred_from_the_prefix():
    assert parse_identifier({"rawId": f"4:{PHONE}"}, "targets[0]") == Identifier.phone(PHONE)


def test_a_formatted_phone_number_is_normalized_to_e164():
    wire = {"rawId": "4:+1 (425) 555-0123", "phoneNumber": {"value": "+1 (425) 555-0123"}}

    assert parse_identifier(wire, "targets[0]").raw_id == f"4:{PHONE}"


def test_a_user_identifier_without_kind_is_inferred_from_the_nested_object():
    identifier = parse_identifier({"communicationUser": {"id": USER}}, "targets[0]")

    assert identifier == Identifier.user(USER)
    assert identifier.kind == "communicationUser"
    assert identifier.phone_number is None


def test_a_user_identifier_with_only_a_raw_id_is_inferred_from_the_prefix():
    assert parse_identifier({"rawId": USER}, "targets[0]") == Identifier.user(USER)


def test_a_spool_user_is_an_acs_user():
    assert parse_identifier({"rawId": "8:spool:abc_123"}, "source").kind == "communicationUser"


def test_a_kind_that_agrees_with_the_identifier_is_accepted():
    wire = {"kind": "communicationUser", "rawId": USER, "communicationUser": {"id": USER}}

    assert parse_identifier(wire, "targets[0]") == Identifier.user(USER)


def test_a_kind_that_disagrees_with_the_identifier_is_refused():
    wire = {"kind": "communicationUser", "rawId": f"4:{PHONE}", "phoneNumber": {"value": PHONE}}

    with pytest.raises(BadRequest) as exc_info:
        parse_identifier(wire, "targets[0]")

    assert message(exc_info).startswith("targets[0].kind: ")


def test_an_unknown_kind_is_refused():
    with pytest.raises(BadRequest):
        parse_identifier({"kind": "unknown", "rawId": USER}, "targets[0]")


def test_a_phone_raw_id_that_disagrees_with_the_nested_number_is_refused():
    wire = {"rawId": "4:+14255550199", "phoneNumber": {"value": PHONE}}

    with pytest.raises(BadRequest) as exc_info:
        parse_identifier(wire, "targets[0]")

    assert message(exc_info).startswith("targets[0].rawId: ")


def test_a_user_raw_id_that_disagrees_with_the_nested_id_is_refused():
    wire = {"rawId": "8:acs:other_user", "communicationUser": {"id": USER}}

    with pytest.raises(BadRequest) as exc_info:
        parse_identifier(wire, "targets[0]")

    assert message(exc_info).startswith("targets[0].rawId: ")


def test_a_phone_raw_id_next_to_a_user_object_is_refused():
    with pytest.raises(BadRequest):
        parse_identifier({"rawId": f"4:{PHONE}", "communicationUser": {"id": USER}}, "targets[0]")


def test_both_nested_objects_at_once_are_refused():
    wire = {"phoneNumber": {"value": PHONE}, "communicationUser": {"id": USER}}

    with pytest.raises(BadRequest):
        parse_identifier(wire, "targets[0]")


@pytest.mark.parametrize("bad", ["+1555123456", "12345", "+1-800-FLOWERS", f"{PHONE} ext 5"])
def test_a_nested_phone_number_that_is_not_valid_e164_is_refused(bad):
    with pytest.raises(BadRequest) as exc_info:
        parse_identifier({"phoneNumber": {"value": bad}}, "targets[0]")

    assert message(exc_info).startswith("targets[0].phoneNumber.value: ")


@pytest.mark.parametrize("bad", ["4:+1555123456", "4:12345", "4:", "4: 14255550123"])
def test_a_phone_raw_id_that_is_not_valid_e164_is_refused(bad):
    with pytest.raises(BadRequest) as exc_info:
        parse_identifier({"rawId": bad}, "targets[0]")

    assert message(exc_info).startswith("targets[0].rawId: ")


@pytest.mark.parametrize(
    "wire",
    [
        {"rawId": "8:orgid:abc", "microsoftTeamsUser": {"userId": "abc", "cloud": "public"}},
        {"rawId": "28:orgid:abc", "microsoftTeamsApp": {"appId": "abc", "cloud": "public"}},
        {"teamsExtensionUser": {"userId": "u", "tenantId": "t", "resourceId": "r"}},
        {"rawId": "8:orgid:abc"},
        {"rawId": "8:dod:abc"},
        {"rawId": "8:gcch:abc"},
        {"rawId": "8:teamsvisitor:abc"},
        {"rawId": "28:orgid:abc"},
        {"rawId": "8:acs:resource_tenant_user"},
        {"kind": "microsoftTeamsUser", "rawId": "8:orgid:abc"},
    ],
)
def test_teams_identifiers_are_not_supported(wire):
    with pytest.raises(NotSupported) as exc_info:
        parse_identifier(wire, "targets[0]")

    assert "Teams identifiers are not supported" in message(exc_info)
    assert message(exc_info).startswith("targets[0]")


def test_a_teams_identifier_is_reported_as_not_supported_not_as_a_bad_request():
    with pytest.raises(NotSupported) as exc_info:
        parse_identifier({"rawId": "8:orgid:abc"}, "targets[0]")

    assert exc_info.value.detail.code == "NotSupported"


@pytest.mark.parametrize("bad", [None, "4:+14255550123", [], 7, {}, {"kind": "phoneNumber"}])
def test_a_value_that_is_not_an_identifier_object_is_refused_naming_the_field(bad):
    with pytest.raises(BadRequest) as exc_info:
        parse_identifier(bad, "targets[0]")

    assert message(exc_info).startswith("targets[0]: ")


def test_an_unknown_key_is_refused_naming_the_key():
    with pytest.raises(BadRequest) as exc_info:
        parse_identifier({"rawId": USER, "email": {"address": "a@b"}}, "targets[1]")

    assert message(exc_info) == "targets[1]: unknown key(s): email."


@pytest.mark.parametrize(
    "wire",
    [
        {"rawId": ""},
        {"rawId": 14255550123},
        {"phoneNumber": {"value": ""}},
        {"phoneNumber": "+14255550123"},
        {"phoneNumber": {"value": 14255550123}},
        {"phoneNumber": {"value": PHONE, "assertedId": "x"}},
        {"phoneNumber": {"value": PHONE, "isAnonymous": True}},
        {"communicationUser": {"id": ""}},
        {"communicationUser": USER},
        {"communicationUser": {"id": USER, "cloud": "public"}},
        {"kind": 1, "rawId": USER},
    ],
)
def test_empty_strings_and_wrong_types_are_refused_naming_the_field(wire):
    with pytest.raises(BadRequest) as exc_info:
        parse_identifier(wire, "targets[0]")

    assert message(exc_info).startswith("targets[0]")


@pytest.mark.parametrize(
    "bad",
    ["8:acs:", "8:acs:has space", "8:acs:semi;colon", "acs:abc", "9:acs:abc", f"8:acs:{'a' * 251}"],
)
def test_a_malformed_acs_user_id_is_refused(bad):
    with pytest.raises(BadRequest):
        parse_identifier({"communicationUser": {"id": bad}}, "targets[0]")


def test_a_government_cloud_acs_user_is_not_supported():
    with pytest.raises(NotSupported):
        parse_identifier({"rawId": "8:dod-acs:resource_user"}, "targets[0]")


def test_isanonymous_false_as_the_sdk_may_send_it_is_accepted():
    wire = {"rawId": f"4:{PHONE}", "phoneNumber": {"value": PHONE, "isAnonymous": False}}

    assert parse_identifier(wire, "targets[0]") == Identifier.phone(PHONE)


def test_null_members_count_as_absent():
    wire = {"kind": None, "rawId": None, "communicationUser": {"id": USER}, "phoneNumber": None}

    assert parse_identifier(wire, "targets[0]") == Identifier.user(USER)


def test_a_phone_identifier_goes_out_with_kind_raw_id_and_the_nested_object():
    assert Identifier.phone(PHONE).to_wire() == {
        "kind": "phoneNumber",
        "rawId": f"4:{PHONE}",
        "phoneNumber": {"value": PHONE},
    }


def test_a_user_identifier_goes_out_with_kind_raw_id_and_the_nested_object():
    assert Identifier.user("8:acs:res_uid").to_wire() == {
        "kind": "communicationUser",
        "rawId": "8:acs:res_uid",
        "communicationUser": {"id": "8:acs:res_uid"},
    }


@pytest.mark.parametrize("identifier", [Identifier.phone(PHONE), Identifier.user(USER)])
def test_the_wire_form_parses_back_to_the_same_identifier(identifier):
    assert parse_identifier(identifier.to_wire(), "targets[0]") == identifier


@pytest.mark.parametrize(
    ("kind", "raw_id"),
    [("phoneNumber", "4:+1 425 555 0123"), ("phoneNumber", USER), ("unknown", USER)],
)
def test_an_identifier_built_from_bad_trusted_values_raises_value_error(kind, raw_id):
    with pytest.raises(ValueError, match="Not a valid"):
        Identifier(kind, raw_id)


def test_a_bare_phone_value_returns_e164():
    assert parse_phone_value({"value": "+1 425 555 0123"}, "sourceCallerIdNumber") == PHONE


@pytest.mark.parametrize(
    "bad", [PHONE, {}, {"value": "+1555123456"}, {"value": PHONE, "extra": 1}, {"id": USER}]
)
def test_a_bad_bare_phone_value_is_refused_naming_the_field(bad):
    with pytest.raises(BadRequest) as exc_info:
        parse_phone_value(bad, "sourceCallerIdNumber")

    assert message(exc_info).startswith("sourceCallerIdNumber")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(f"4:{PHONE}", Identifier.phone(PHONE)), ("8:acs:abc_123", Identifier.user("8:acs:abc_123"))],
)
def test_a_raw_id_path_parameter_parses_to_an_identifier(raw, expected):
    assert parse_raw_id(raw, "participantRawId") == expected


def test_a_raw_id_path_parameter_with_spaces_in_the_number_is_normalized():
    assert parse_raw_id("4:+1 425 555 0123", "participantRawId") == Identifier.phone(PHONE)


@pytest.mark.parametrize("bad", ["", "4: 14255550123", "4:+1555123456", "abc", "8:acs:a b"])
def test_a_bad_raw_id_path_parameter_is_refused_naming_the_field(bad):
    with pytest.raises(BadRequest) as exc_info:
        parse_raw_id(bad, "participantRawId")

    assert message(exc_info).startswith("participantRawId: ")


def test_a_teams_raw_id_path_parameter_is_not_supported():
    with pytest.raises(NotSupported):
        parse_raw_id("8:orgid:abc", "participantRawId")
