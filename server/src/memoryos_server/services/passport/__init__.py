"""The Memory Passport: one person's own memory identity, shared with AI agents category by
category, with their consent, for as long as they choose.

- ``service``: the passport as an account — sign-in by emailed code, sessions, export, deletion.
- ``sessions``: where the person is signed in; signing out one session or all others.
- ``agents``: global agents, registered by a tenant, reviewed by an operator.
- ``grants``: what a person allowed one agent (categories, mode, expiry); consent codes.
- ``connections``: accounts at organisations linked to the passport (secure links).
- ``pairwise``: one UUI per (person, agent), so two agents cannot tell they serve one person.
- ``agent_access``: an agent's credentials, its grant, the code exchange and user resolve.
- ``scopes``: the memory scopes of an agent (within its grant) and of the person (everything).
- ``activity``: the person's activity, in words.

"Universal" in table names and the ``/v1/universal`` routes is the same thing: the passport's
memory family, kept apart from any tenant's.
"""
