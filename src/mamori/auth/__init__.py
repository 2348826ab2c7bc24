"""Customer authentication (issue 4): passkeys first, fallback factors under policy, operation-bound
step-up, sessions and an OpenID Connect provider. Every attempt is an event for the risk engine."""
