"""Campaigns: who was contacted with what, a random control group, the outcomes, and the
measured effect beside the assumed one; risk snapshots across refreshes; enrolment rules.

Modules: `store` (SQLAlchemy tables, Alembic migrations, transactional writes), `arms`
(targets and the seeded, stratified control group), `outcomes` (outcome files and refreshes),
`effect` (treatment vs control with intervals and tests), `uplift` (Qini, AUUC, uplift
learners), `simulate` (the demo's past campaign with a known effect), `snapshots` (risk over
time, risers), `rules` and `outbox` (automated enrolment, the outbox and the webhook).
"""
