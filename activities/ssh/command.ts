/** Exit status of the wrapper when the script arrived incomplete and was not run. */
export const INCOMPLETE_SCRIPT_EXIT_CODE = 125;

/**
 * Remote side of a run. The channel's stdin carries the script's bytes and then stays open, and
 * its end-of-file signals to the host that the client has gone. Nothing of the script is ever on a
 * command line, so `ps`, `pkill -f` and audit logs never see it.
 *
 * The wrapper, run by `/bin/bash -c` with the script's byte count as $1 and the timeout in
 * seconds as $2:
 *  1. reads exactly $1 bytes, and does not run a script cut short by a dropped connection;
 *  2. starts a watcher that waits for end-of-file on stdin and, if the script still runs, sends
 *     TERM and 5 s later KILL to the script's process group;
 *  3. replaces itself with `timeout -k 5 $2 /bin/bash -s`, fed the script through a pipe.
 * Because of the exec, the channel's exit status is the script's own, including death by a
 * signal, which `timeout` and `sudo` both pass on. The exec also keeps the wrapper's pid, which
 * `timeout` turns into the id of its process group, so the watcher and `timeout` kill one group.
 * A session leader cannot change its group, but its group id is its pid already.
 */
const WRAPPER = [
  'exec 3<&0',
  'script=$(head -c "$1"; printf .)',
  'script=${script%.}',
  'received=$(LC_ALL=C; printf %s "${#script}")',
  'if [ "$received" != "$1" ]; then echo "kboot: received $received of $1 script bytes, not running it" >&2; ' +
    `exit ${INCOMPLETE_SCRIPT_EXIT_CODE}; fi`,
  '( trap "" HUP INT TERM; read -r -u 3 -d "" _; kill -0 $$ 2>/dev/null || exit 0; ' +
    'kill -TERM -- -$$; sleep 5; kill -KILL -- -$$ ) >/dev/null 2>&1 &',
  'exec timeout -k 5 "$2" /bin/bash -s 3<&- < <(printf %s "$script")',
].join('\n');

if (WRAPPER.includes("'")) {
  throw new Error('the remote wrapper must not contain a single quote, because it is sent single-quoted');
}

/**
 * Seconds that the host's own timeout runs past the client's, so the client's timeout normally
 * fires first and the host's catches only scripts whose client has gone silent.
 */
export const REMOTE_TIMEOUT_MARGIN_SECONDS = 5;

/**
 * Prompt that `sudo -S` prints when it wants the password. The client answers only this prompt,
 * and only once, so a password never lands anywhere but in sudo.
 */
export const SUDO_PROMPT = '[kboot] sudo password:';

/**
 * Line the wrapper prints, as root, before it reads the script. With `sudo -S` the client sends
 * the script only after this line, so script bytes can never be read by sudo as a password, and
 * a password that sudo did not ask for never reaches the wrapper.
 */
export const SUDO_READY_LINE = 'kboot: sudo ready';

/**
 * Builds the command line that the SSH server hands to the user's login shell. Only the fixed
 * wrapper and two integers appear on it. With `sudoPassword`, sudo reads the password from the
 * channel (`-S`) and the wrapper announces itself with SUDO_READY_LINE before reading the script.
 */
export function buildRemoteCommand(options: { sudo: boolean; sudoPassword?: boolean; scriptBytes: number; timeoutMs: number }): string {
  const { sudo, scriptBytes, timeoutMs } = options;
  if (!Number.isSafeInteger(scriptBytes) || scriptBytes < 0) {
    throw new RangeError(`invalid script size ${scriptBytes}: expected a byte count`);
  }
  const remoteTimeoutSeconds = Math.ceil(timeoutMs / 1000) + REMOTE_TIMEOUT_MARGIN_SECONDS;
  if (sudo && options.sudoPassword === true) {
    const announced = `printf "%s\\n" "${SUDO_READY_LINE}" >&2\n${WRAPPER}`;
    return `exec sudo -S -p '${SUDO_PROMPT}' -- /bin/bash -c '${announced}' kboot-run ${scriptBytes} ${remoteTimeoutSeconds}`;
  }
  const elevate = sudo ? 'sudo -n -- ' : '';
  return `exec ${elevate}/bin/bash -c '${WRAPPER}' kboot-run ${scriptBytes} ${remoteTimeoutSeconds}`;
}

/** Messages of `sudo -n` (as of sudo 1.9.13) when the user would need a password. */
const SUDO_PASSWORD_REQUIRED = /^sudo: (a password is required|a terminal is required to read the password)/m;
/** Message of sudo (as of 1.9.13) when sudoers sets `requiretty` and there is no terminal. */
const SUDO_TTY_REQUIRED = /^sudo: sorry, you must have a tty to run sudo/m;

/**
 * Tells whether sudo itself refused to start the script: exit status 1 and the refusal among the
 * `sudo:` lines at the start of the output (stderr, or stdout under a tty). Lines the script
 * printed itself come after the first line that is not sudo's, so they are not searched.
 */
export function detectSudoRefusal(exitCode: number | null, output: string): 'password' | 'tty' | undefined {
  if (exitCode !== 1) {
    return undefined;
  }
  const lines = output.trimStart().split('\n');
  const firstOther = lines.findIndex((line) => !line.startsWith('sudo: '));
  const sudoLines = lines.slice(0, firstOther === -1 ? lines.length : firstOther).join('\n');
  if (SUDO_PASSWORD_REQUIRED.test(sudoLines)) {
    return 'password';
  }
  if (SUDO_TTY_REQUIRED.test(sudoLines)) {
    return 'tty';
  }
  return undefined;
}

/**
 * Terminal modes for tty endpoints: a raw terminal without echo, so the script's bytes reach the
 * wrapper unchanged and no control character in them raises a signal, and output has no CRLF.
 */
export const RAW_TERMINAL_MODES = {
  ECHO: 0,
  ECHOE: 0,
  ECHOK: 0,
  ECHONL: 0,
  ICANON: 0,
  ISIG: 0,
  IEXTEN: 0,
  IXON: 0,
  IXOFF: 0,
  ICRNL: 0,
  INLCR: 0,
  IGNCR: 0,
  ISTRIP: 0,
  OPOST: 0,
} as const;
