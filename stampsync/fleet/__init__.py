"""Fleet mode: many stores, many workers, on PostgreSQL (journal and queue) and Redis.

A campaign file is cut into jobs of bounded size per store (:func:`queue_campaign`) and
queued with `pgqueuer <https://github.com/janbjorge/pgqueuer>`_ in the journal's own
PostgreSQL database, in one transaction with the campaign's record. Any number of worker
processes on any number of machines run them (:func:`run_worker`): each builds one client
per store on demand from a credentials provider you supply, sends through that store's
quota in Redis (:class:`~stampsync.throttle.RedisThrottles`) and journals every award in
the shared journal (:class:`~stampsync.batch.postgres.PgJournal`). A job runs at least
once (a stalled worker's jobs run again); the journal makes each award's effect at most
once. Job arguments are JSON, checked when read. :func:`fleet_overview` counts outcomes
and jobs per store; :func:`failed_rows` names every failed row and its reason.

Needs the ``fleet`` extra: ``pip install 'stampsync[fleet]'``.
"""

from __future__ import annotations

from .campaign import (
    CampaignJob,
    Enqueued,
    enqueue_campaign,
    queue_campaign,
    read_campaign,
    split_jobs,
)
from .credentials import CredentialsProvider, json_credentials, load_provider
from .queue import AWARD_JOB, AwardJobArgs, BadJob, JobRow, decode_job
from .status import FailedJob, FailedRow, failed_jobs, failed_rows, fleet_overview, fleet_status
from .worker import FleetSettings, award_job, check_start, run_worker

__all__ = [
    "AWARD_JOB",
    "AwardJobArgs",
    "BadJob",
    "CampaignJob",
    "CredentialsProvider",
    "Enqueued",
    "FailedJob",
    "FailedRow",
    "FleetSettings",
    "JobRow",
    "award_job",
    "check_start",
    "decode_job",
    "enqueue_campaign",
    "failed_jobs",
    "failed_rows",
    "fleet_overview",
    "fleet_status",
    "json_credentials",
    "load_provider",
    "queue_campaign",
    "read_campaign",
    "run_worker",
    "split_jobs",
]
