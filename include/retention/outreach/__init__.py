"""Senior outreach: the weekly SMS that points seniors (65+) newly at risk of churning to free
digital-literacy classes at the nearest 디지털 배움터 venue and the nearest KT plaza, with 10%
off their plan once they finish the classes.

The `senior_outreach` DAG's steps, one module each: `audience` (who may be messaged: consent,
opt-out, holdout), `quiet_hours` (when), `offer` (the nearest venue and plaza), `message` (the
Korean SMS, lawful and within its segment budget), `campaign` (a week's audience and the
messages it queues), `outbox` (sending at most one message per customer per campaign,
whatever re-runs, retries or crashes happen, and following deliveries) and `transports`
(Twilio or a local sink). The legal rules they share are in DESIGN.md, "Outreach rules".
"""
