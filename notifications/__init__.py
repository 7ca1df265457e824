"""Emergency and proactive notification campaigns: audiences, notifications, recipients,
the dispatcher and call flow, API, portal pages. A service app on the engine's public verbs
and signed CloudEvents, like reminders, whose contacts and do-not-call list it shares; it
may import reminders, campaigns, calls' public verbs and below.
"""
