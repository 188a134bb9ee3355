"""E-mail to the card: each card's address, the messages filed on it, and their API."""
