"""Quick access beside the Today view: recently opened cards (favourites and the wall follow)."""

from .service import note_card_opened

__all__ = ["note_card_opened"]
