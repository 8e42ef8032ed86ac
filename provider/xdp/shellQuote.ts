/**
 * An SSH server runs a command through the remote user's shell, so an argument vector has to become one
 * string. Every argument is single-quoted (the only character special inside single quotes is the
 * quote itself, written as '\''), so no argument can start another command, expand a variable or
 * redirect. NUL cannot be passed through a command line at all and is refused.
 */
export function shellQuote(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error("no command to run");
  return argv
    .map((arg) => {
      if (arg.includes("\0")) throw new Error("a command argument contains a NUL byte");
      return /^[A-Za-z0-9_./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
    })
    .join(" ");
}
