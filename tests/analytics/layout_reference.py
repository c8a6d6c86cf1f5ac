"""A plain CatBoost reference for the generated layouts (a helper for the tests, not a test).

`plain_catboost_auc` is what anyone would do with a churn file: drop the id and post-outcome
columns, hand the rest to CatBoost with the text columns as categorical features, and read
the out-of-fold ROC-AUC. It shares no code with the product, only its hyper-parameters
(`PRODUCT_PARAMS`, the defaults of `analytics.model.ChurnModel`; a test checks they still
match), so a product score can be compared with it fairly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

# analytics.model.ChurnModel's defaults. The product picks its iteration count by early
# stopping (at most 600); at learning rate 0.05 it picked 130-250 on 2,400 training rows of
# the generated layouts, at 0.1 (since the start-up work of #13: the same out-of-fold AUC in
# 30% less time) about half that. The reference uses a fixed count in that range, which
# needs no inner validation split.
PRODUCT_PARAMS = {"depth": 4, "learning_rate": 0.1, "l2_leaf_reg": 5.0,
                  "one_hot_max_size": 10, "thread_count": 2}
ITERATIONS = 100


def plain_catboost_auc(frame: pd.DataFrame, label: str, drop=(), positive=1,
                       n_splits: int = 5, seed: int = 0) -> float:
    """Out-of-fold ROC-AUC of CatBoost predicting ``frame[label] == positive`` from every
    column but ``label`` and ``drop`` (object/category columns as categorical features,
    missing as ""), over stratified, shuffled ``n_splits`` folds."""
    y = (frame[label] == positive).to_numpy().astype(int)
    x = frame.drop(columns=[label, *drop]).reset_index(drop=True)
    categorical = [c for c in x.columns
                   if x[c].dtype == object or isinstance(x[c].dtype, pd.CategoricalDtype)]
    for column in categorical:
        x[column] = x[column].astype(object).where(x[column].notna(), "").astype(str)
    oof = np.zeros(len(y))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y):
        model = CatBoostClassifier(iterations=ITERATIONS, random_seed=seed, verbose=False,
                                   allow_writing_files=False, **PRODUCT_PARAMS)
        model.fit(x.iloc[train], y[train], cat_features=categorical)
        oof[test] = model.predict_proba(x.iloc[test])[:, 1]
    return float(roc_auc_score(y, oof))
