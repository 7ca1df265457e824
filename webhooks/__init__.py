"""Durable delivery as a generic outbox: messages, deliveries, retries, signing, the event
webhook, the deliveries API and pages. Imports no app of ours above tenants.
"""
