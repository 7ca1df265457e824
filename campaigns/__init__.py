"""What the campaign apps (reminders, notifications) share: the tenant's dialling budget
(calls per second, concurrent calls, priority between campaigns) and quiet hours. Plain
code, no models; it may import tenants only.
"""
