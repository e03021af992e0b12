"""bench/client.py: Python dockerpty (Debian's python3-dockerpty, with
python3-docker) driven the way bench/client.lua drives ours, so the runner
can time the three clients with the same command line:

  python3 bench/client.py run  [-i] [-t] IMAGE CMD...
  python3 bench/client.py exec [-i] [-t] CONTAINER CMD...

`run` creates the container (network and log driver "none", as the other
two clients get), runs dockerpty.start and removes the container; `exec`
creates the exec with the flags given and runs dockerpty.start_exec (its
exec_command always asks for a tty together with stdin). Exits with the
container's or the exec's exit code.
"""
import sys

import docker
import dockerpty


def usage():
    sys.stderr.write("usage: client.py run|exec [-i] [-t] IMAGE|CONTAINER CMD...\n")
    sys.exit(2)


def main(argv):
    if not argv or argv[0] not in ("run", "exec"):
        usage()
    mode, args = argv[0], argv[1:]
    interactive = tty = False
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-i", "-it", "-ti"):
            interactive = True
        if flag in ("-t", "-it", "-ti"):
            tty = True
        if flag not in ("-i", "-t", "-it", "-ti"):
            usage()
    if len(args) < 2:
        usage()
    target, cmd = args[0], args[1:]
    client = docker.APIClient(version="auto", **docker.utils.kwargs_from_env())
    if mode == "exec":
        exec_id = client.exec_create(target, cmd, stdin=interactive, tty=tty)
        dockerpty.start_exec(client, exec_id, interactive=interactive)
        return client.exec_inspect(exec_id)["ExitCode"] or 0
    host_config = client.create_host_config(
        network_mode="none", log_config=docker.types.LogConfig(type="none"))
    container = client.create_container(target, cmd, tty=tty, stdin_open=interactive,
                                        host_config=host_config)
    try:
        dockerpty.start(client, container, interactive=interactive, logs=0)
        return client.inspect_container(container)["State"]["ExitCode"]
    finally:
        client.remove_container(container, force=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
