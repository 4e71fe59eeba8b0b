"""Fleet mode: many stores, many workers, on Redis (arq) and PostgreSQL.

A campaign or import file is cut into jobs of bounded size per store
(:func:`enqueue_campaign`), queued in Redis with `arq <https://arq-docs.helpmanual.io/>`_.
Any number of worker processes on any number of machines run them
(:func:`worker_settings`): each builds one client per store on demand from a credentials
provider you supply, sends through that store's quota in Redis
(:class:`~stampsync.throttle.RedisThrottles`) and journals every award in one shared
PostgreSQL journal (:class:`~stampsync.batch.postgres.PgJournal`). arq delivers a job at
least once (a killed worker's jobs are run again); the journal makes each award's effect
at most once. :func:`fleet_status` counts outcomes per store from the journal;
:func:`failed_jobs` lists the jobs arq gave up on.

Needs the ``fleet`` extra: ``pip install 'stampsync[fleet]'``.
"""

from __future__ import annotations

from .campaign import CampaignJob, enqueue_campaign, read_campaign, split_jobs
from .credentials import CredentialsProvider, json_credentials, load_provider
from .status import FailedJob, failed_jobs, fleet_status
from .worker import AWARD_JOB, FleetSettings, award_job, worker_settings

__all__ = [
    "AWARD_JOB",
    "CampaignJob",
    "CredentialsProvider",
    "FailedJob",
    "FleetSettings",
    "award_job",
    "enqueue_campaign",
    "failed_jobs",
    "fleet_status",
    "json_credentials",
    "load_provider",
    "read_campaign",
    "split_jobs",
    "worker_settings",
]
