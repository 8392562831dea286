/**
 * TraceSetting and LogSettings messages ⇔ the core's settings (PROTOCOL.md §2.8), and the W3C
 * trace context a client sends in call metadata. Trace values are string lists (an empty list
 * clears a setting); log values are the SettingValue oneof, passed on by their case's JS type
 * (the core checks that each setting got the type it needs).
 */
import type { Metadata } from '@grpc/grpc-js';
import type { TraceSettingRequest__Output } from '../../generated/inference/TraceSettingRequest.js';
import type { TraceSettingResponse } from '../../generated/inference/TraceSettingResponse.js';
import type { LogSettingsRequest__Output } from '../../generated/inference/LogSettingsRequest.js';
import type { LogSettingsResponse } from '../../generated/inference/LogSettingsResponse.js';
import type { TraceSettingChange, TraceSettingsView } from '../../observability/trace/trace-settings.js';
import type { LogSettingsState, LogSettingValue } from '../../observability/log-settings.js';
import type { TraceContextHeaders } from '../../observability/trace/request-trace.js';
import { errors } from '../../errors/catalogue.js';

export function traceChanges(r: TraceSettingRequest__Output): Record<string, TraceSettingChange> {
  return Object.fromEntries(Object.entries(r.settings).map(([k, v]) => [k, v.value]));
}

export function traceResponse(v: TraceSettingsView): TraceSettingResponse {
  return { settings: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, { value: Array.isArray(x) ? x : [x] }])) };
}

export function logChanges(r: LogSettingsRequest__Output): Record<string, LogSettingValue> {
  const out: Record<string, LogSettingValue> = {};
  for (const [k, v] of Object.entries(r.settings)) {
    const choice = v.parameter_choice;
    const value = choice === undefined ? undefined : v[choice];
    if (value === undefined) throw errors.invalidArg(`log setting '${k}' has no value`);
    out[k] = value;
  }
  return out;
}

export function logResponse(s: LogSettingsState): LogSettingsResponse {
  const settings: NonNullable<LogSettingsResponse['settings']> = {};
  for (const [k, v] of Object.entries(s)) {
    settings[k] = typeof v === 'boolean' ? { bool_param: v } : typeof v === 'number' ? { uint32_param: v } : { string_param: v };
  }
  return { settings };
}

/** `traceparent` / `tracestate` metadata, if the client sent them. */
export function traceContextOf(md: Metadata): TraceContextHeaders | undefined {
  const [tp] = md.get('traceparent');
  if (typeof tp !== 'string') return undefined;
  const [ts] = md.get('tracestate');
  return typeof ts === 'string' ? { traceparent: tp, tracestate: ts } : { traceparent: tp };
}
