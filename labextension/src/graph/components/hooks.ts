import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { GraphController } from '../controller';

/** Re-render on a signal, at most once per animation frame (event bursts coalesce). */
export function useChanges(signal: ISignal<unknown, unknown>): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    let frame = 0;
    const changed = (): void => {
      if (!frame) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          setVersion(v => v + 1);
        });
      }
    };
    signal.connect(changed);
    return () => {
      signal.disconnect(changed);
      cancelAnimationFrame(frame);
    };
  }, [signal]);
  return version;
}

export const ControllerContext = React.createContext<GraphController | null>(null);

export function useController(): GraphController {
  const controller = React.useContext(ControllerContext);
  if (!controller) {
    throw new Error('a graph component outside its editor');
  }
  return controller;
}
