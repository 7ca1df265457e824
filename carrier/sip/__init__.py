"""The SIP trunk driver: an RFC 3261 user agent on asyncio UDP and an RTP media engine.

Layers, bottom up: `message` (parse/build), `transport` (UDP + the per-call trace),
`transaction` (RFC 3261 §17 timers), `ua` (dialogs: INVITE in and out, BYE, CANCEL,
OPTIONS, re-INVITE, REGISTER); `g711`, `rtp`, `jitter`, `inband`, `quality`, `stream`
(one RTP leg), `mixer`, `clock`, `engine` (prompts, DTMF, recording on the shared 20 ms
clock); `driver.SipCarrier` puts them behind the `Carrier` protocol.
"""
