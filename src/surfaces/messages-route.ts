import type { Hono } from 'hono';
import type { SurfaceEnv, SurfaceKit } from './routes.js';

export function registerMessages(_app: Hono<SurfaceEnv>, _kit: SurfaceKit): void {}
