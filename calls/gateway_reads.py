"""What a batch of carrier commands reads, read once for the whole batch (issue 15).

The gateway used to read a DIAL's route and callee script, and a MEDIA_START's operation
and legs, command by command, each in a savepoint; `BatchReads.of(commands)` reads them
with one SELECT per kind for the batch, so those commands touch the database no more and
need no savepoint (`needs_savepoint`): a failure in the driver undoes nothing.
"""

from dataclasses import dataclass, field
from typing import Any

from calls.models import CarrierCommand, MediaOperation, Participant, SimulatedCallee
from calls.trunk_fleet import route_for_dial, routes_for_dials, trunk_of

K = CarrierCommand.Kind
# Commands the driver alone carries out: no database access, so no savepoint.
DRIVER_ONLY = frozenset(
    {
        K.HANG_UP, K.ANSWER, K.REJECT, K.MEDIA_STOP, K.DTMF_LISTEN, K.MUTE, K.RECORD_PAUSE,
        K.RECORD_RESUME, K.RECORD_STOP, K.PRESS, K.CALLEE_ANSWER, K.CALLEE_HANG_UP,
        K.STREAM_STOP,
    }
)  # fmt: skip
UNREAD: Any = object()  # a callee nobody read yet (the gateway's _script reads it then)


@dataclass(frozen=True)
class BatchReads:
    """Routes by (tenant, to, caller id) and callees by (tenant, raw id) for the DIALs;
    operations by op id (None: gone) and connected legs by call for the MEDIA_STARTs."""

    routes: dict[tuple[int, str, str], str] = field(default_factory=dict)
    callees: dict[tuple[int, str], SimulatedCallee] = field(default_factory=dict)
    operations: dict[str, MediaOperation | None] = field(default_factory=dict)
    legs: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # (raw id, leg)

    @classmethod
    def of(cls, commands: list[CarrierCommand]) -> "BatchReads":
        dials = [
            (c.participant.tenant_id, c.participant.raw_id, c.payload.get("caller_id", ""))
            for c in commands
            if c.kind == K.DIAL and c.participant is not None
        ]
        callees: dict[tuple[int, str], SimulatedCallee] = {}
        if dials:
            rows = SimulatedCallee.unscoped.filter(
                tenant_id__in={t for t, _, _ in dials}, raw_id__in={raw for _, raw, _ in dials}
            ).order_by("pk")
            for callee in rows:
                callees.setdefault((callee.tenant_id, callee.raw_id), callee)  # as .first()
        op_ids = [str(c.payload["op"]) for c in commands if c.kind == K.MEDIA_START]
        operations: dict[str, MediaOperation | None] = dict.fromkeys(op_ids)
        legs: dict[int, list[tuple[str, str]]] = {}
        if op_ids:
            for op in MediaOperation.unscoped.filter(op_id__in=op_ids):
                operations[str(op.op_id)] = op
            calls = {op.call_id for op in operations.values() if op is not None}
            connected = Participant.unscoped.filter(
                call_id__in=calls, state=Participant.State.CONNECTED
            ).order_by("pk")
            for call_id, raw_id, leg in connected.values_list("call_id", "raw_id", "leg_id"):
                legs.setdefault(call_id, []).append((raw_id, str(leg)))
        return cls(routes_for_dials(dials) if dials else {}, callees, operations, legs)

    def needs_savepoint(self, command: CarrierCommand) -> bool:
        if command.kind == K.DIAL and command.participant is not None:
            # A SIP trunk's leg writes its trunk on the participant.
            return bool(
                trunk_of(self.route(command.participant, command.payload.get("caller_id", "")))
            )
        if command.kind == K.MEDIA_START:
            return str(command.payload.get("op")) not in self.operations
        return command.kind not in DRIVER_ONLY

    def callee(self, participant: Participant) -> SimulatedCallee | None:
        return self.callees.get((participant.tenant_id, participant.raw_id))

    def route(self, participant: Participant, caller_id: str) -> str:
        key = (participant.tenant_id, participant.raw_id, caller_id)
        return self.routes[key] if key in self.routes else route_for_dial(*key)

    def media_operation(self, op_id: str) -> MediaOperation | None:
        if op_id in self.operations:
            return self.operations[op_id]
        return MediaOperation.unscoped.filter(op_id=op_id).first()

    def media_legs(self, op: MediaOperation) -> tuple[str, ...]:
        """The legs of the operation's targets (everyone when none) still connected."""
        if op.call_id in self.legs or str(op.op_id) in self.operations:
            connected = self.legs.get(op.call_id, [])
        else:
            live = Participant.unscoped.filter(
                call_id=op.call_id, state=Participant.State.CONNECTED
            )
            connected = [
                (raw, str(leg)) for raw, leg in live.order_by("pk").values_list("raw_id", "leg_id")
            ]
        return tuple(leg for raw, leg in connected if not op.targets or raw in op.targets)
