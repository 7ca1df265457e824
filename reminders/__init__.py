"""Appointment-reminder campaigns, a service app on the engine's public verbs and signed
CloudEvents: contacts, plans, dispatcher, call flow, API, pages. May import calls and below.
"""
