"""Everything that touches a phone network: the carrier interface, the media engine and the
drivers. Imports no app of ours above tenants."""
