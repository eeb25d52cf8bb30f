"""A small text corpus for the language-model examples, generated from a toy grammar (no downloads)."""
import random

SUBJECTS = ["the cat", "a dog", "the old man", "my sister", "the teacher", "a small bird", "the engineer"]
VERBS = ["sees", "likes", "follows", "draws", "finds", "helps", "watches"]
OBJECTS = ["the river", "a red ball", "the garden", "an apple", "the long road", "a quiet house"]
ENDINGS = ["today", "at night", "in the morning", "again", "with care", "every day"]


def sentences(count, seed=0):
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ENDINGS)} ."
            for _ in range(count)]


def text(count=2000, seed=0):
    return "\n".join(sentences(count, seed)) + "\n"
