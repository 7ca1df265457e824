"""Part 1: callauto's API against its floors, loaded in interleaved rounds.

Until session 7 part 1 measured callauto's five endpoints for 10 s each, then started the
floor and measured it once, a minute later. On a machine shared with other agents that
compared two different minutes: the same code gave DRF ping 458, 990 and 1,143 req/s in
three "quiet" runs and the ratios swung 0.18-0.51 with it. Now both servers run side by
side (same gunicorn argv, environment, database and client) and each endpoint is paired
with its floor: ROUNDS rounds of ROUND_SECONDS each, the two taking turns (A B, B A, ...,
so a trend in the background load hits both alike). Each round gives one ratio; the
median is the figure, min-max its spread. CPU per request (server workers, load client,
PostgreSQL backends) is printed beside it: it hardly moves with the load.
"""

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import flame, floors, report
from bench.config import DATABASE_URL, GUNICORN
from bench.cpu import RoundMeter, Spent
from bench.http_load import (
    LoadResult,
    Request,
    Signer,
    create_call_factory,
    create_one,
    get_call_factory,
    list_participants_factory,
    run_load,
    trivial,
)
from bench.procs import BenchError, Service, wait_http_ok
from bench.receiver import TimestampingReceiver

THREADS = 4  # concurrent client connections
ROUNDS = 6  # turns per endpoint and per floor
ROUND_SECONDS = 3.0
WARMUP_SECONDS = 1.0
READ_GOAL, CREATE_GOAL, P99_GOAL = 0.4, 0.5, 2.0

Make = Callable[[Signer], Request]


@dataclass
class Side:
    """One server's endpoint over all its rounds: pooled latencies, CPU and round rates."""

    name: str
    pooled: LoadResult
    rates: list[float] = field(default_factory=list)
    cpu: list[Spent] = field(default_factory=list)

    def add(self, result: LoadResult, spent: Spent) -> None:
        self.pooled.seconds += result.seconds
        self.pooled.latencies += result.latencies
        self.pooled.errors.update(result.errors)
        self.rates.append(result.rate)
        self.cpu.append(spent)

    def cpu_ms(self, part: str) -> float:
        """Mean CPU milliseconds per successful request spent by `part`."""
        ok = self.pooled.ok
        return 1000 * sum(getattr(s, part) for s in self.cpu) / ok if ok else float("nan")

    @property
    def cpu_total_ms(self) -> float:
        return sum(self.cpu_ms(part) for part in ("server", "client", "database"))


@dataclass
class Pair:
    ours: Side
    floor: Side
    goal: float

    @property
    def ratios(self) -> list[float]:
        return round_ratios(self.ours.rates, self.floor.rates)

    @property
    def cpu_ratio(self) -> float:
        """The rate ratio two CPU-bound servers would reach: the floor's CPU per request
        (all three parts) over ours. It hardly moves with others' load; the rates do."""
        return self.floor.cpu_total_ms / self.ours.cpu_total_ms


def round_ratios(ours: list[float], floor: list[float]) -> list[float]:
    """One ratio per round: our rate over the floor's rate measured next to it."""
    return [o / f if f else float("nan") for o, f in zip(ours, floor, strict=True)]


def median_spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max); NaN for all three when there is nothing to summarise."""
    if not values:
        nan = float("nan")
        return nan, nan, nan
    return statistics.median(values), min(values), max(values)


@dataclass
class Server:
    service: Service
    signer: Signer


def _measure(
    server: Server, make: Make, name: str, meter: RoundMeter, seconds: float
) -> tuple[LoadResult, Spent]:
    before = meter.sample(server.service.process.pid)
    result = run_load(name, server.signer, make, threads=THREADS, seconds=seconds)
    spent = meter.since(before, server.service.process.pid)
    server.service.check_alive()
    return result, spent


def _warm(server: Server, make: Make, name: str) -> int:
    warm = run_load(name, server.signer, make, threads=THREADS, seconds=WARMUP_SECONDS)
    if warm.ok == 0:
        raise BenchError(
            f"{name}: no successful request while warming up ({dict(warm.errors)});"
            f" end of the log:\n{server.service.log_tail()}"
        )
    return warm.ok


def measure_pair(
    ours: tuple[str, Make, Server],
    floor: tuple[str, Make, Server],
    goal: float,
    meter: RoundMeter,
    profile: bool,
) -> tuple[Pair, int]:
    """Interleaved rounds of one endpoint and its floor; returns the pair and how many of
    our requests succeeded (warm-up included), for the created-rows check."""
    (our_name, our_make, our_server), (floor_name, floor_make, floor_server) = ours, floor
    our_side, floor_side = (
        Side(our_name, LoadResult(our_name)),
        Side(floor_name, LoadResult(floor_name)),
    )
    pair = Pair(our_side, floor_side, goal)
    _warm(floor_server, floor_make, floor_name)
    sent = _warm(our_server, our_make, our_name)
    spies = []
    if profile:  # our workers over all rounds; they idle while the floor takes its turn
        seconds = 2 * ROUNDS * ROUND_SECONDS
        spies.append(flame.record(f"part1 {our_name}", our_server.service.process.pid, seconds))
    for turn in range(ROUNDS):
        sides = [(pair.floor, floor_server, floor_make), (pair.ours, our_server, our_make)]
        for side, server, make in sides if turn % 2 == 0 else sides[::-1]:
            result, spent = _measure(server, make, side.name, meter, ROUND_SECONDS)
            side.add(result, spent)
    flame.finish(spies)
    return pair, sent + pair.ours.pooled.ok


def part_one(
    env: dict[str, str], port: int, access_key: str, log_dir: Path, profile: bool = False
) -> tuple[list[Pair], int]:
    """Every endpoint against its floor. Returns the pairs and how many calls were created."""
    receiver = TimestampingReceiver()  # a real callbackUri; nothing calls it without a gateway
    argv = [GUNICORN, "callauto.wsgi", "--worker-class", "sync", "--workers", "2"]
    argv += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "--name", "callauto-bench"]
    meter = RoundMeter(DATABASE_URL)
    pairs: list[Pair] = []
    created = 0
    try:
        with (
            Service("gunicorn", argv, env, log_dir) as web,
            floors.floor_server(env, log_dir) as (floor_web, floor_port),
        ):
            wait_http_ok(port, "/healthz", web)
            ours = Server(web, Signer(port, access_key))
            floor = Server(floor_web, Signer(floor_port, access_key))
            connection_id = create_one(ours.signer, create_call_factory(receiver.url, False))
            created += 1
            ping = ("floor: DRF ping", floors.ping, floor)
            insert = ("floor: DRF one-row insert", floors.insert, floor)
            plan = [
                ("GET  api/v1/tenant (trivial, HMAC)", trivial, ping, READ_GOAL),
                ("GET  callConnections/{id} (HMAC)", get_call_factory(connection_id), ping,
                 READ_GOAL),
                ("GET  .../participants (HMAC)", list_participants_factory(connection_id), ping,
                 READ_GOAL),
                ("POST callConnections (as the SDK sends it)",
                 create_call_factory(receiver.url, repeatable=True), insert, CREATE_GOAL),
                ("POST callConnections (no Repeatability-ID)",
                 create_call_factory(receiver.url, repeatable=False), insert, CREATE_GOAL),
            ]  # fmt: skip
            for name, make, floor_side, goal in plan:
                pair, sent = measure_pair((name, make, ours), floor_side, goal, meter, profile)
                pairs.append(pair)
                if name.startswith("POST"):
                    created += sent
    finally:
        meter.close()
        receiver.close()
    return pairs, created


def print_part_one(pairs: list[Pair], created: int, deleted: dict[str, int], database: str) -> None:
    print(
        report.heading(
            f"1. API throughput against the floor: both on gunicorn sync x2, {THREADS} client"
            f" threads, {ROUNDS} interleaved rounds of {ROUND_SECONDS:.0f} s each, {database}"
        )
    )
    headers = ["endpoint", "ok", "errors", "req/s", "p50 ms", "p99 ms"]
    headers += ["CPU ms/req: server", "client", "db"]
    sides = [side for pair in pairs for side in (pair.floor, pair.ours)]
    rows = [
        (s.name, s.pooled.ok, sum(s.pooled.errors.values()), report.fmt(s.pooled.rate),
         report.fmt(s.pooled.percentile_ms(50)), report.fmt(s.pooled.percentile_ms(99)),
         report.fmt(s.cpu_ms("server"), 2), report.fmt(s.cpu_ms("client"), 2),
         report.fmt(s.cpu_ms("database"), 2))
        for s in sides
    ]  # fmt: skip
    print(report.table(headers, rows))
    for side in sides:
        if side.pooled.errors:
            print(f"  errors of {side.name.strip()}: {dict(side.pooled.errors)}")
    headers = ["ratio (issue 15 goals)", "median", "min-max", "floor req/s", "CPU ratio"]
    print(report.table([*headers, "goal", ""], part_one_goals(pairs)))
    print(
        "Each ratio is the median of the per-round ratios (our rate over the floor's rate in"
        "\nthe neighbouring round); req/s and percentiles pool every round. CPU ms/req: the"
        "\ngunicorn workers, this load client (all threads) and the bench database's backends;"
        "\nCPU ratio = the floor's total CPU per request over ours (what the rate ratio would be"
        "\nif both were CPU-bound on the same cores: the figure least moved by others' load)."
        "\nRows only: each CreateCall writes Call, CallConnection, Participant and CarrierCommand"
        "\n(plus an IdempotentRequest row when it carries a Repeatability-Request-ID). No gateway"
        "\nruns, so calls stay 'connecting'; events and callbacks are measured in part 2."
    )
    counted = ", ".join(f"{n} {model.split('.')[-1]}" for model, n in sorted(deleted.items()))
    print(f"Rows found and deleted afterwards: {counted or 'none'}")
    print(f"(expected {created} of each call row: the 201 answers, warm-up included).")


def part_one_goals(pairs: list[Pair]) -> list[tuple]:
    """Each endpoint's median ratio to its floor, and CreateCall's pooled p99 to the insert's."""
    rows = []
    for pair in pairs:
        median, low, high = median_spread(pair.ratios)
        rows.append(
            (f"{pair.ours.name.strip()} / {pair.floor.name.removeprefix('floor: ')}",
             report.fmt(median, 2), f"{report.fmt(low, 2)}-{report.fmt(high, 2)}",
             report.fmt(pair.floor.pooled.rate), report.fmt(pair.cpu_ratio, 2), f">= {pair.goal}",
             "met" if median >= pair.goal else "NOT met")
        )  # fmt: skip
    sdk = next(p for p in pairs if "as the SDK" in p.ours.name)
    p99, floor_p99 = sdk.ours.pooled.percentile_ms(99), sdk.floor.pooled.percentile_ms(99)
    rows.append(
        ("CreateCall (SDK) p99 / insert p99", report.fmt(p99 / floor_p99, 2),
         f"{report.fmt(p99, 0)} / {report.fmt(floor_p99, 0)} ms", "", "", f"<= {P99_GOAL:g}",
         "met" if p99 <= P99_GOAL * floor_p99 else "NOT met")
    )  # fmt: skip
    return rows
