/** Starts a Node child process and waits for the first stdout JSON line matching `ready`. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child {
  proc: ChildProcess;
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

export function startChild(args: string[], ready: (rec: Record<string, unknown>) => boolean): Promise<Child> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`${args.join(' ')} exited early with ${code}`)));
    lines.on('line', (l) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(l) as Record<string, unknown>;
      } catch {
        return;
      }
      if (!ready(rec)) return;
      resolve({
        proc,
        info: rec,
        stop: () => new Promise<void>((done) => {
          proc.removeAllListeners('exit');
          proc.on('exit', () => done());
          proc.kill('SIGTERM');
        }),
      });
    });
  });
}
