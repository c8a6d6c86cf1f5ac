"""Ids of the Data page's "Load data" panel: shared by the page (pages/data.py) and the
background training job (dashboard/jobs.py), which is registered with the app, not the page.
The upload widget's own ids (drop zone, progress, result store) are in dashboard/uploads.py."""

DATA_PREVIEW_DIV = "data-preview-div"
DATA_PREVIEW_STORE = "data-preview-store"
DATA_ROLES_STORE = "data-roles-store"
DATA_TRAIN_BUTTON = "data-train-button"
DATA_CANCEL_BUTTON = "data-cancel-button"
DATA_TRAIN_PROGRESS = "data-train-progress"
DATA_TRAIN_PROGRESS_WRAP = "data-train-progress-div"
DATA_TRAIN_STAGE = "data-train-stage-text"
DATA_TRAINED_STORE = "data-trained-store"
DATA_TRAIN_RESULT = "data-train-result-div"
DATA_CONFIG_BUTTON = "data-config-button"
DATA_CONFIG_DOWNLOAD = "data-config-download"
DATA_REDIRECT = "data-redirect-location"
DATA_DATASETS_DIV = "data-datasets-div"
DATA_SWITCH_TYPE = "data-switch-button"   # dict ids {"type": DATA_SWITCH_TYPE, "index": id}
# The role fields: dict ids {"type": DATA_ROLE_TYPE, "role": <ROLE_KEYS item>}
DATA_ROLE_TYPE = "data-role-input"

from dashboard.uploads import DROP_ID, PROGRESS_ID, STORE_ID  # noqa: E402,F401  (re-exported)
