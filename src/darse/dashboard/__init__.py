"""What the dashboard shows, as plain data: the library side of `darse serve`.

- `users.py`: the dashboard's users (a file of bcrypt hashes with a role each);
- `fleet.py`: every service of the checkout with its deployment state, drift, lint and secrets verdicts.
"""
