"""How supervision's pages, messages and reviews put counts into words."""


def counted(number: int, word: str) -> str:
    """A count with its noun, singular for exactly one: "1 stop", "0 stops", "3 saved days"."""
    return f"{number} {word}{'' if number == 1 else 's'}"
