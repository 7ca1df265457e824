"""Call media: the canonical audio format, DTMF tones and their detection, text-to-speech."""
