"""The ground floor: tenants, members and invitations, access keys, phone numbers, rate plans,
the audit trail and the permission table, with their pages and API. Imports no app of ours.
"""
