"""Request bodies of the transcription routes that take a locale."""

from rest_framework import serializers

from callauto.errors import NotSupported
from calls.api.serializers import OperationBody
from calls.api.streaming_options import locale_of


class LocaleBody(OperationBody):
    locale = serializers.JSONField(required=False)
    speechRecognitionModelEndpointId = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("speechRecognitionModelEndpointId"):
            raise NotSupported(
                "speechRecognitionModelEndpointId: custom speech models are not supported."
            )
        locale = attrs.get("locale")
        attrs["locale"] = "" if locale is None else locale_of(locale, "locale")
        return attrs
