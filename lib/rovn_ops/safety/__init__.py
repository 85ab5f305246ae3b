"""What may enter (parameters), what must never leave (secrets, personal data), who may change what."""
