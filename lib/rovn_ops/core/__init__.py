"""The ground floor: errors, paths, polling, plain text, identity, the AWS client and its guard."""
