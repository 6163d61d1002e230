"""Small interaction sets with planted patterns, shared by the recommender tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nextbest.models.recommend.interactions import Interactions


def planted_blocks(seed: int = 0, users_per_group: int = 20, items_per_group: int = 10):
    """Two taste groups: users of group g touch only items of group g.

    Returns the training interactions and, per user, the one item of their
    group held out (an item they never touched in training).
    """
    rng = np.random.default_rng(seed)
    rows = []
    held = {}
    for g in range(2):
        items = [f"g{g}i{i:02d}" for i in range(items_per_group)]
        for u in range(users_per_group):
            user = f"g{g}u{u:02d}"
            chosen = rng.choice(items, size=6, replace=False)
            held[user] = {chosen[-1]}
            for t, item in enumerate(chosen[:-1]):
                rows.append((user, item, t))
    frame = pd.DataFrame(rows, columns=["user", "item", "time"])
    return Interactions.from_frame(frame, "user", "item", "time"), held
