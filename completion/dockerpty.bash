# bash completion for dockerpty: subcommands (and service exec), their
# flags, flag values, and container, image and service names from the
# daemon. The command answers itself
# (`dockerpty __complete ...`, through the dockerpty library), so the flags
# are those its parser takes and the names come from the daemon that
# DOCKER_HOST, -H or --context names. Installed by `make install`; or source it.

_dockerpty_words() {
  # the words of `dockerpty [-H HOST | -c CONTEXT] __complete ARGS...`
  local host=()
  [ -n "$_dockerpty_host" ] && host=(-H "$_dockerpty_host")
  [ -n "$_dockerpty_context" ] && host=(--context "$_dockerpty_context")
  "${COMP_WORDS[0]}" "${host[@]}" __complete "$@" 2>/dev/null
}

_dockerpty() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local i w cmd= cmd_at=0 _dockerpty_host= _dockerpty_context=
  COMPREPLY=()
  # the global options, then the command
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case $w in
      -H|--host) _dockerpty_host=${COMP_WORDS[i+1]}; ((i++)) ;;
      --host=*) _dockerpty_host=${w#--host=} ;;
      -c|--context) _dockerpty_context=${COMP_WORDS[i+1]}; ((i++)) ;;
      --context=*) _dockerpty_context=${w#--context=} ;;
      -*) ;;
      *) cmd=$w; cmd_at=$i; break ;;
    esac
  done
  if [ -z "$cmd" ]; then
    case $prev in
      -H|--host|-c|--context) return ;;
    esac
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$(_dockerpty_words flags | cut -d' ' -f1)" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$(_dockerpty_words commands)" -- "$cur"))
    fi
    return
  fi
  local flags valued
  flags=$(_dockerpty_words flags "$cmd")
  valued=" $(printf '%s\n' "$flags" | sed -n 's/ 1$//p' | tr '\n' ' ') "
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(printf '%s\n' "$flags" | cut -d' ' -f1)" -- "$cur"))
    return
  fi
  # the value of a flag
  if [[ $valued == *" $prev "* ]]; then
    case $prev in
      --pull) COMPREPLY=($(compgen -W "always missing never" -- "$cur")) ;;
      -a|--attach) COMPREPLY=($(compgen -W "stdin stdout stderr" -- "$cur")) ;;
      --restart) COMPREPLY=($(compgen -W "no always on-failure unless-stopped" -- "$cur")) ;;
      --log-driver)
        COMPREPLY=($(compgen -W "json-file local none syslog journald gelf fluentd awslogs splunk etwlogs gcplogs logentries" \
          -- "$cur")) ;;
      --network) COMPREPLY=($(compgen -W "none host bridge" -- "$cur")) ;;
      --ipc|--pid) COMPREPLY=($(compgen -W "host private shareable" -- "$cur")) ;;
      --env-file|--label-file) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
    return
  fi
  # the positionals after the command: which one is this?
  local n=0
  for ((i = cmd_at + 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [ "$w" = "--" ]; then continue; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* && $valued == *" $w "* ]] && ((i++))
      continue
    fi
    ((n++))
  done
  case $cmd:$n in
    exec:0|attach:0) COMPREPLY=($(compgen -W "$(_dockerpty_words containers running)" -- "$cur")) ;;
    start:*) COMPREPLY=($(compgen -W "$(_dockerpty_words containers stopped)" -- "$cur")) ;;
    run:0) COMPREPLY=($(compgen -W "$(_dockerpty_words images)" -- "$cur")) ;;
    service:0) COMPREPLY=($(compgen -W "exec" -- "$cur")) ;;
    service:1) COMPREPLY=($(compgen -W "$(_dockerpty_words services)" -- "$cur")) ;;
  esac
}

complete -F _dockerpty dockerpty
