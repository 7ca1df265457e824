"""The Call Automation engine: calls, connections, participants, media operations, their
verbs and transition tables, the ACS routes, the gateway and the calls pages. May import
webhooks, carrier and tenants.
"""
