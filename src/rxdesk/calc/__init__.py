"""Pure pharmacy math: no Django, no database. Any app may import it."""
