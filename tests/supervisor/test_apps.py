"""Apps under the supervisor: start, stop, restart, crashes, backoff, health, groups."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import psutil

from roost.testing.broker import free_port
from roost_supervisor.settings import Settings

from .conftest import gone, python_app, script_app, supervising


async def test_start_stop_restart(make_settings: Callable[..., Settings]) -> None:
    async with supervising(make_settings({"sleeper": python_app()})) as h:
        first = await h.running("sleeper")
        pid = first["pid"]
        assert isinstance(pid, int) and psutil.pid_exists(pid)
        assert first["restarts"] == 0

        mark = h.mark()
        await h.press("sleeper", "stop")
        stopped = await h.state("sleeper", lambda s: s["state"] == "stopped", since=mark)
        assert stopped["pid"] is None
        assert gone(pid)

        mark = h.mark()
        await h.press("sleeper", "start")
        second = await h.running("sleeper", since=mark)
        assert second["pid"] != pid
        assert second["restarts"] == 0  # a start after a stop is not a restart

        mark = h.mark()
        await h.press("sleeper", "restart")
        third = await h.state(
            "sleeper",
            lambda s: s["state"] == "running" and s["pid"] != second["pid"],
            since=mark,
        )
        assert third["restarts"] == 1
        assert gone(second["pid"])


async def test_kill_9_crashes_then_restarts_with_backoff(
    make_settings: Callable[..., Settings],
) -> None:
    app = script_app(
        "node_app.py",
        "probe-app",
        node="probe-app",
        backoff_initial=0.3,
        health={"kind": "availability", "start_timeout": 20},
    )
    settings = make_settings({"probe-app": app})
    async with supervising(settings) as h:
        availability = h.bus.topics.node_availability("probe-app")
        first = await h.running("probe-app")
        assert first["healthy"] is True
        await h.watcher.wait_for(lambda m: m.payload == b"online", topic=availability)

        mark = h.mark()
        os.kill(first["pid"], signal.SIGKILL)
        crashed = await h.state("probe-app", lambda s: s["state"] == "crashed", since=mark)
        assert crashed["exit_code"] == -signal.SIGKILL
        assert "SIGKILL" in crashed["reason"]
        backoff = await h.state("probe-app", lambda s: s["state"] == "backoff", since=mark)
        assert "restart in" in backoff["reason"]
        # The broker gives the killed node's last will, then the new process says online.
        offline = await h.watcher.wait_for(
            lambda m: m.payload == b"offline", topic=availability, since=mark
        )
        after = h.watcher.messages.index(offline)
        await h.watcher.wait_for(lambda m: m.payload == b"online", topic=availability, since=after)
        # A periodic update of the old process may also say `running`: wait for a new pid.
        again = await h.state(
            "probe-app",
            lambda s: s["state"] == "running" and s["pid"] != first["pid"],
            since=mark,
        )
        assert again["restarts"] == 1
        assert gone(first["pid"])


async def test_stop_cancels_a_pending_restart(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings({"sleeper": python_app(backoff_initial=60, backoff_max=60)})
    async with supervising(settings) as h:
        first = await h.running("sleeper")
        mark = h.mark()
        os.kill(first["pid"], signal.SIGKILL)
        await h.state("sleeper", lambda s: s["state"] == "backoff", since=mark)
        actor = h.supervisor.actors["sleeper"]
        assert actor.goal_up

        mark = h.mark()
        await h.press("sleeper", "stop")
        stopped = await h.state("sleeper", lambda s: s["state"] == "stopped", since=mark)
        assert stopped["reason"] == "stop requested"
        assert stopped["restarts"] == 0
        # Nothing is left scheduled: the actor wants the app down and waits for a command.
        assert not actor.goal_up
        assert actor.pending is None
        assert actor.process is None


async def test_a_newer_command_replaces_a_waiting_one(
    make_settings: Callable[..., Settings],
) -> None:
    # A slow stop (the app ignores SIGTERM until the grace period ends) keeps the actor
    # busy; a restart and then a stop arrive meanwhile: only the stop is carried out.
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    settings = make_settings({"stubborn": python_app(code, stop_timeout=1.0)})
    async with supervising(settings) as h:
        await h.running("stubborn")
        mark = h.mark()
        await h.press("stubborn", "stop")
        await h.state("stubborn", lambda s: s["state"] == "stopping", since=mark)
        actor = h.supervisor.actors["stubborn"]
        await h.press("stubborn", "restart")
        await h.watcher.wait_for(lambda _: actor.pending is not None, timeout=5)
        await h.press("stubborn", "stop")
        stopped = await h.state("stubborn", lambda s: s["state"] == "stopped", since=mark)
        assert "SIGKILL" in stopped["reason"]
        assert actor.pending is None or actor.pending.value == "stop"
        await h.state("stubborn", lambda s: s["state"] == "stopped", since=mark)
        assert not actor.goal_up
        assert stopped["restarts"] == 0


async def test_failing_health_check_restarts_the_app(
    make_settings: Callable[..., Settings], tmp_path: Any
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "health").write_text("ok")
    port = free_port()
    app = python_app(
        f"import http.server, functools, os; os.chdir({str(site)!r}); "
        f"http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, "
        f"port={port}, bind='127.0.0.1')",
        backoff_initial=0.1,
        health={
            "kind": "http",
            "url": f"http://127.0.0.1:{port}/health",
            "interval": 0.2,
            "failures": 2,
            "timeout": 2,
            "start_timeout": 20,
        },
    )
    async with supervising(make_settings({"web": app})) as h:
        first = await h.running("web")
        assert first["healthy"] is True
        mark = h.mark()
        (site / "health").unlink()  # the app now answers 404
        unhealthy = await h.state("web", lambda s: s["healthy"] is False, since=mark)
        assert unhealthy["state"] == "running"
        stopping = await h.state("web", lambda s: s["state"] == "stopping", since=mark)
        assert "health check failed" in stopping["reason"]
        assert "404" in stopping["reason"]
        (site / "health").write_text("ok")
        again = await h.state(
            "web",
            lambda s: s["state"] == "running" and s["pid"] != first["pid"],
            since=mark,
        )
        assert again["restarts"] >= 1
        assert again["healthy"] is True


async def test_tcp_check_gates_running(make_settings: Callable[..., Settings]) -> None:
    port = free_port()
    code = (
        "import socket, time; time.sleep(0.5); s = socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(600)"
    )
    app = python_app(code, health={"kind": "tcp", "port": port, "start_timeout": 20})
    async with supervising(make_settings({"listener": app})) as h:
        starting = await h.state("listener", lambda s: s["state"] == "starting")
        assert starting["pid"] is not None
        running = await h.running("listener")
        assert running["reason"] == f"tcp 127.0.0.1:{port} accepts"


async def test_stop_takes_the_whole_process_group(make_settings: Callable[..., Settings]) -> None:
    # A shell with two background children; a stop must take all three.
    app = python_app(start_secs=0.3).model_copy(
        update={"command": ["sh", "-c", "sleep 300 & sleep 300 & wait"]}
    )
    async with supervising(make_settings({"family": app})) as h:
        running = await h.running("family")
        members = [running["pid"], *(c.pid for c in psutil.Process(running["pid"]).children())]
        assert len(members) == 3
        # Memory is that of the whole family, as the OS reports it.
        family_rss = sum(psutil.Process(pid).memory_info().rss for pid in members)
        sampled = await h.state("family", lambda s: s["rss"] is not None)
        assert sampled["rss"] > psutil.Process(running["pid"]).memory_info().rss
        assert abs(sampled["rss"] - family_rss) < family_rss * 0.5
        assert sampled["cpu"] is not None and sampled["cpu"] >= 0
        mark = h.mark()
        await h.press("family", "stop")
        await h.state("family", lambda s: s["state"] == "stopped", since=mark)
        assert all(gone(pid) for pid in members)


async def test_sigkill_after_the_grace_period(make_settings: Callable[..., Settings]) -> None:
    app = python_app(start_secs=0.3, stop_timeout=0.5).model_copy(
        update={"command": ["sh", "-c", "trap '' TERM; sleep 300 & wait"]}
    )
    async with supervising(make_settings({"deaf": app})) as h:
        running = await h.running("deaf")
        members = [running["pid"], *(c.pid for c in psutil.Process(running["pid"]).children())]
        mark = h.mark()
        await h.press("deaf", "stop")
        stopped = await h.state("deaf", lambda s: s["state"] == "stopped", since=mark)
        assert "killed by SIGKILL" in stopped["reason"]
        assert all(gone(pid) for pid in members)


async def test_children_of_a_crashed_app_are_cleared(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings({"spawner": script_app("spawner.py", restart="never")})
    async with supervising(settings) as h:
        crashed = await h.state("spawner", lambda s: s["state"] == "crashed")
        assert crashed["exit_code"] == 3
        assert "restart policy never" in crashed["reason"]
        lines = await h.bus.request(h.node, "logs", {"app": "spawner", "lines": 20})
        assert lines.ok
        text = "\n".join(lines.data["lines"])  # type: ignore[index, call-overload]
        child = int(text.split("child ")[1].split()[0])
        assert gone(child)


async def test_logs_method_tails_the_output(make_settings: Callable[..., Settings]) -> None:
    code = "import time\nfor i in range(50): print('line', i)\ntime.sleep(600)"
    async with supervising(make_settings({"talker": python_app(code)})) as h:
        await h.running("talker")
        response = await h.bus.request(h.node, "logs", {"app": "talker", "lines": 5})
        assert response.ok, response.error
        data: dict[str, Any] = response.data  # type: ignore[assignment]
        while "line 49" not in data["lines"]:  # the output may still be on its way
            response = await h.bus.request(h.node, "logs", {"app": "talker", "lines": 5})
            data = response.data  # type: ignore[assignment]
        assert data["lines"] == [f"line {i}" for i in range(45, 50)]
        unknown = await h.bus.request(h.node, "logs", {"app": "nope"})
        assert not unknown.ok and unknown.error is not None
        assert unknown.error.code == "unknown_device"
        bad = await h.bus.request(h.node, "logs", {"app": "talker", "lines": 0})
        assert bad.error is not None and bad.error.code == "invalid_params"


async def test_a_program_that_cannot_start_backs_off(
    make_settings: Callable[..., Settings],
) -> None:
    app = python_app(backoff_initial=0.2, max_retries=2).model_copy(
        update={"command": ["/nonexistent/program"]}
    )
    async with supervising(make_settings({"ghost": app})) as h:
        given_up = await h.state("ghost", lambda s: "gave up" in (s["reason"] or ""))
        assert given_up["state"] == "crashed"
        assert "cannot start /nonexistent/program" in given_up["reason"]
        assert given_up["restarts"] == 2
        mark = h.mark()
        await h.press("ghost", "start")  # a start by hand tries again at once
        await h.state("ghost", lambda s: s["state"] == "backoff", since=mark)


async def test_clean_exit_is_stopped_under_on_failure(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings({"oneshot": python_app("print('done')", start_secs=5)})
    async with supervising(settings) as h:
        stopped = await h.state(
            "oneshot", lambda s: s["state"] == "stopped" and s["exit_code"] == 0
        )
        assert "restart policy on-failure" in stopped["reason"]
        assert stopped["restarts"] == 0


async def test_dependencies_start_first_and_stop_last(
    make_settings: Callable[..., Settings],
) -> None:
    apps = {
        "db": python_app(start_secs=0.5),
        "web": python_app(depends_on=["db"]),
    }
    async with supervising(make_settings(apps)) as h:
        waiting = await h.state("web", lambda s: s["reason"] == "waiting for db")
        assert waiting["state"] == "starting" and waiting["pid"] is None
        await h.running("web")
        assert h.supervisor.actors["db"].state.value == "running"
        mark = h.mark()
        await h.shutdown()
        stopped = {}
        for app in ("web", "db"):
            message = await h.watcher.wait_for(
                lambda m: b'"stopped"' in m.payload, topic=h.state_topic(app), since=mark
            )
            stopped[app] = h.watcher.messages.index(message)
        assert stopped["web"] < stopped["db"]


async def test_a_slow_app_never_blocks_another(make_settings: Callable[..., Settings]) -> None:
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    apps = {"slow": python_app(deaf, stop_timeout=3.0), "quick": python_app()}
    async with supervising(make_settings(apps)) as h:
        await h.running("slow")
        quick = await h.running("quick")
        mark = h.mark()
        await h.press("slow", "stop")
        await h.state("slow", lambda s: s["state"] == "stopping", since=mark)
        await h.press("quick", "restart")
        again = await h.state(
            "quick", lambda s: s["state"] == "running" and s["pid"] != quick["pid"], since=mark
        )
        assert again["restarts"] == 1
        # The slow app is still in its grace period: nothing waited for it.
        assert h.supervisor.actors["slow"].state.value == "stopping"


async def test_a_stopped_process_fails_the_process_check(
    make_settings: Callable[..., Settings],
) -> None:
    app = python_app(
        stop_timeout=0.5,
        backoff_initial=0.1,
        health={"kind": "process", "interval": 0.1, "failures": 2},
    )
    async with supervising(make_settings({"frozen": app})) as h:
        first = await h.running("frozen")
        mark = h.mark()
        os.kill(first["pid"], signal.SIGSTOP)
        stopping = await h.state("frozen", lambda s: s["state"] == "stopping", since=mark)
        assert "process is stopped" in stopping["reason"]
        again = await h.state(
            "frozen", lambda s: s["state"] == "running" and s["pid"] != first["pid"], since=mark
        )
        assert again["restarts"] == 1
        assert gone(first["pid"])
