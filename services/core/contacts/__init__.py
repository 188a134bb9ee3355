"""Contacts: the people and companies behind the cards, with duplicates and merging."""
