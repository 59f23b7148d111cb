/**
 * Device discovery. Each device type registers a factory; nothing native is loaded until a
 * device is first used or probed, so a missing library only makes that device unavailable.
 */
import { DeviceError } from '../errors.js';
import type { Backend, BackendFactory, DeviceType } from './backend.js';

const factories = new Map<DeviceType, BackendFactory>();
const instances = new Map<string, Backend>();

export function registerBackend(f: BackendFactory): void {
  factories.set(f.type, f);
}

/** Normalised device string: 'cpu', 'cuda:0', 'webgpu', 'opencl:0' ('cuda' means 'cuda:0'). */
export function parseDevice(op: string, d: string): { type: DeviceType; index: number; key: string } {
  if (typeof d !== 'string') throw new DeviceError(op, `a device must be a string such as 'cpu' or 'cuda:0', got ${String(d)}`);
  const m = /^(cpu|cuda|webgpu|opencl)(?::(\d+))?$/.exec(d);
  if (!m) throw new DeviceError(op, `unknown device '${d}'; expected one of 'cpu', 'cuda', 'cuda:N', 'webgpu', 'opencl'`);
  const type = m[1] as DeviceType;
  const index = m[2] === undefined ? 0 : Number(m[2]);
  const key = type === 'cpu' || type === 'webgpu' ? (index === 0 ? type : `${type}:${index}`) : `${type}:${index}`;
  return { type, index, key };
}

export function getBackend(device: string, op = 'device'): Backend {
  const cached = instances.get(device);
  if (cached) return cached;
  const { type, index, key } = parseDevice(op, device);
  const hit = instances.get(key);
  if (hit) {
    instances.set(device, hit);
    return hit;
  }
  const f = factories.get(type);
  if (!f) throw new DeviceError(op, `the ${type} device is not built into this torchlet`);
  const reason = f.unavailableReason();
  if (reason !== null) throw new DeviceError(op, `device '${device}' is not available: ${reason}`);
  const count = f.deviceCount();
  if (index >= count) throw new DeviceError(op, `device '${device}' does not exist: ${count} ${type} device(s) found`);
  const be = f.create(index);
  instances.set(key, be);
  instances.set(device, be);
  return be;
}

export function isDeviceAvailable(type: DeviceType): boolean {
  const f = factories.get(type);
  return !!f && f.unavailableReason() === null && f.deviceCount() > 0;
}
export function unavailableReason(type: DeviceType): string | null {
  const f = factories.get(type);
  return f ? f.unavailableReason() : `the ${type} device is not built into this torchlet`;
}
export function deviceCount(type: DeviceType): number {
  const f = factories.get(type);
  return f && f.unavailableReason() === null ? f.deviceCount() : 0;
}
export function availableDevices(): string[] {
  const out: string[] = [];
  for (const t of ['cpu', 'cuda', 'webgpu', 'opencl'] as DeviceType[]) {
    const n = deviceCount(t);
    if (n === 0) continue;
    if (t === 'cpu' || t === 'webgpu') out.push(t);
    else for (let i = 0; i < n; i++) out.push(`${t}:${i}`);
  }
  return out;
}
/** Backends created so far (for memory reports). */
export function liveBackends(): Backend[] {
  return [...new Set(instances.values())];
}
