"""Post-quantum cryptography inventory (issue 7): discover the cryptography in use (TLS, SSH, files,
source code, imported CBOMs and asset lists), classify it against versioned policy data, assess
harvest-now-decrypt-later exposure and priority along the FSA's three axes, and plan the migration."""
