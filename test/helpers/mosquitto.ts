/**
 * A real Mosquitto broker for the MQTT tests: its own config on a free loopback port, started and
 * killed by the test. Where the `mosquitto` package is not installed the tests skip, saying so;
 * under CI (which installs it, .ci/run) they fail instead.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';

const candidates = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto'];
export const mosquittoPath = candidates.find((p) => existsSync(p));
const passwdPath = ['/usr/bin/mosquitto_passwd', '/usr/local/bin/mosquitto_passwd', '/opt/homebrew/bin/mosquitto_passwd'].find((p) => existsSync(p));
export const mosquittoSkipReason = 'Mosquitto is not installed (apt-get install mosquitto): the MQTT tests need a real broker';

/** A port the kernel just handed out on 127.0.0.1, free again. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export interface Broker {
  port: number;
  /** Kills the broker at once (SIGKILL: no clean disconnects, last wills fire on the clients' side). */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same config. */
  start(): Promise<void>;
}

/**
 * Starts `mosquitto -c CONFIG` in `dir`. `listener(port)` gives the config's lines for the port
 * (default: anonymous plain MQTT on 127.0.0.1).
 */
export async function startBroker(dir: string, listener = (port: number) => `listener ${port} 127.0.0.1\nallow_anonymous true\n`): Promise<Broker> {
  if (!mosquittoPath) throw new Error(mosquittoSkipReason);
  const port = await freePort();
  const config = join(dir, `mosquitto-${port}.conf`);
  // Run as root, Mosquitto would switch to its own user, which cannot read the test's files.
  await writeFile(config, `user ${userInfo().username}\n${listener(port)}`);
  let child: ChildProcess | undefined;
  let log = '';
  const broker: Broker = {
    port,
    async start() {
      child = spawn(mosquittoPath!, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => (log += d));
      child.stderr!.on('data', (d: Buffer) => (log += d));
      for (let i = 0; i < 100; i++) {
        if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${log}`);
        if (await accepts(port)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`mosquitto did not listen on ${port} within 5 s: ${log}`);
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
  await broker.start();
  return broker;
}

/** A password file for user/password, made with mosquitto_passwd. */
export function passwordFile(dir: string, user: string, password: string): string {
  const path = join(dir, 'passwords');
  if (!passwdPath) throw new Error('mosquitto_passwd not found (it comes with the mosquitto package)');
  execFileSync(passwdPath, ['-c', '-b', path, user, password]);
  return path;
}

export interface Certificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA, a server certificate for localhost and 127.0.0.1, and a client certificate, made with openssl. */
export function makeCertificates(dir: string): Certificates {
  const p = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=ct-edge test CA');
  const sign = (name: string, cn: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    execFileSync('sh', ['-c', `printf '%s\\n' "${ext}" > ${p(`${name}.ext`)}`]);
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.pem`), '-days', '2', '-extfile', p(`${name}.ext`));
  };
  sign('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  sign('client', 'ct-edge-device', 'extendedKeyUsage=clientAuth');
  return { ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}
