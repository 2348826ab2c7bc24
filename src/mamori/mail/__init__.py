"""Mail safety (issue 8): find password-protected attachments (PPAP) and links in outgoing mail,
stop them at an SMTP policy proxy, check the firm's sender-spoofing defences, and count the
practice month by month as evidence for the FSA."""
