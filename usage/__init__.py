"""Metering and cost: usage records per leg, recording file and TTS, daily roll-ups, reports,
charts, CSV and the usage API. May import recordings, calls and what they import.
"""
