"""`headwater worker` and `headwater scheduler`: the control plane's processes."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from headwater.settings import Settings

if TYPE_CHECKING:
    from runner.control.execution import Executor


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker", help="claim queued runs and execute them (with the scheduler, by default)"
    )
    worker.add_argument("--slots", type=int, help="runs at once (default HEADWATER_WORKER_SLOTS)")
    worker.add_argument(
        "--scheduler",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the scheduler (default HEADWATER_WORKER_SCHEDULER, on)",
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        help="Prometheus port, 0 for none (HEADWATER_WORKER_METRICS_PORT)",
    )
    worker.set_defaults(handler=_worker)
    scheduler = commands.add_parser(
        "scheduler", help="queue runs from the providers' cron schedules"
    )
    scheduler.set_defaults(handler=_scheduler)


def executor(settings: Settings, slots: int) -> Executor:
    """In the warm session for a local master, through spark-submit otherwise."""
    if settings.submits:
        from runner.control.submitted import SubmitExecutor

        return SubmitExecutor(
            settings.compile_options(),
            settings.var_dir / "worker",
            slots,
            conf=settings.submit_conf(),
        )
    from runner.control.inprocess import InProcessExecutor

    return InProcessExecutor(settings.data_plane_config(), settings.job_config(), slots)


def _worker(args: argparse.Namespace) -> int:
    # Imported here: Spark and the ORM models take seconds to import, which `headwater uis …`
    # should not pay.
    import dataclasses

    from api.logs import configure
    from runner.control.scheduler import Scheduler
    from runner.control.worker import Worker

    settings = Settings()
    configure(settings.log_level)
    config = settings.worker_config()
    if args.slots is not None:
        config = dataclasses.replace(config, slots=args.slots)
    if args.metrics_port is not None:
        config = dataclasses.replace(config, metrics_port=args.metrics_port or None)
    with_scheduler = settings.worker_scheduler if args.scheduler is None else args.scheduler
    scheduler = Scheduler(settings.scheduler_config()) if with_scheduler else None

    async def schedule(_pool: Any) -> None:
        assert scheduler is not None
        await scheduler.run()

    worker = Worker(
        config, executor(settings, config.slots), background=schedule if scheduler else None
    )
    print(
        f"headwater worker {config.name}: {config.slots} slot(s), "
        f"{'with' if scheduler else 'without'} the scheduler",
        flush=True,
    )
    asyncio.run(worker.run())
    return 0


def _scheduler(_: argparse.Namespace) -> int:
    from api.logs import configure
    from runner.control.scheduler import Scheduler

    settings = Settings()
    configure(settings.log_level)
    print("headwater scheduler: leading when it holds the lock, standing by otherwise", flush=True)
    try:
        asyncio.run(Scheduler(settings.scheduler_config()).run())
    except KeyboardInterrupt:
        return 0
    return 0
