"""Each user's choices: which rules are on and where notifications go."""
