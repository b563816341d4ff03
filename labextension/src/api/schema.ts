/* eslint-disable */
/**
 * Generated from the server's pydantic models (`python -m nndeploy_jupyter.schemas`) by
 * `jlpm build:types`. Do not edit: change the models, then run it again.
 */

/**
 * ``PENDING → DISPATCHED → RUNNING → SUCCEEDED | FAILED | CANCELLED``, and ``INTERRUPTED`` for a task whose
 * server stopped while it was dispatched or running. Values are the strings on the wire and in SQLite.
 */
export type TaskState = 'PENDING' | 'DISPATCHED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'INTERRUPTED';
/**
 * What an executor's worker is doing, as the panel's header shows it (``GET server``, ``workers`` events).
 */
export type WorkerState = 'STARTING' | 'READY' | 'BUSY' | 'RESTARTING' | 'CRASHED';

export interface BatchCreated {
  batch_id: string;
  /**
   * one per entry, in the entries' order
   */
  task_ids: string[];
}
/**
 * One task of a batch: its own parameters and input files, over the batch's.
 */
export interface BatchEntry {
  /**
   * {"<node name_>": {"<key>": value}}, over the batch's
   */
  params: {
    [k: string]: {
      [k: string]: unknown;
    };
  };
  /**
   * {"<Input node name_>": "resources/..."}: the file (or folder) that node reads, its path_
   */
  inputs: {
    [k: string]: string;
  };
}
/**
 * ``GET batch/{id}``: how far a batch is. Tasks beyond the history limit are gone from ``tasks`` (``expired``).
 */
export interface BatchInfo {
  batch_id: string;
  name: string;
  /**
   * 'workflow:<id>' or 'template:<id>' when queued by id
   */
  source: string | null;
  /**
   * epoch seconds
   */
  ts_submit: number;
  /**
   * tasks submitted
   */
  total: number;
  /**
   * tasks by state, every state named (0 when none)
   */
  counts: {
    [k: string]: number;
  };
  /**
   * every task has ended
   */
  finished: boolean;
  /**
   * ended tasks the history no longer keeps (history_limit)
   */
  expired: number;
  /**
   * in the entries' order
   */
  tasks: BatchMember[];
}
export interface BatchMember {
  task_id: string;
  /**
   * its entry's index in the request
   */
  index: number;
  state: TaskState;
  error: string | null;
}
/**
 * Run one graph once per entry. Every entry is checked before any task is queued: a bad one is a 400 naming
 * its index, and nothing is queued.
 */
export interface BatchRequest {
  workflow_id: string | null;
  template_id: string | null;
  graph: {
    [k: string]: unknown;
  } | null;
  /**
   * @minItems 1
   * @maxItems 100000
   */
  entries: [BatchEntry, ...BatchEntry[]];
  /**
   * parameters every entry starts from
   */
  params: {
    [k: string]: {
      [k: string]: unknown;
    };
  };
  /**
   * of every task of the batch
   */
  priority: number;
  /**
   * a label for the batch (default: the graph's name_)
   */
  name: string;
}
/**
 * What a client sends: follow a task (or ``"*"``: every task), replaying what came after ``since``.
 */
export interface ClientFrame {
  type: 'bind' | 'unbind';
  task_id: string;
  since: number;
}
export interface DownloadError {
  phase: 'error';
  filename: string;
  error: string;
}
/**
 * How far one file is (``exists``: it was there already, nothing fetched).
 */
export interface DownloadProgress {
  phase: 'progress' | 'exists' | 'done';
  /**
   * resources/... where the file lands
   */
  filename: string;
  downloaded: number;
  /**
   * bytes, when the server said
   */
  total: number | null;
  percent: number | null;
  /**
   * seconds since this file's download began
   */
  elapsed: number;
}
export interface DownloadProgressEvent {
  type: 'download_progress';
  task_id: string;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  detail: DownloadProgress | DownloadError;
}
/**
 * Every 4xx/5xx: the reason in words, never an HTML page.
 */
export interface ErrorBody {
  flag: 'error';
  message: string;
}
/**
 * A client frame the server could not use; the envelope's message says why. The socket stays open.
 */
export interface ErrorEvent {
  type: 'error';
  task_id: string | null;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
}
/**
 * One WebSocket message.
 */
export interface EventEnvelope {
  flag: 'success' | 'failed' | 'error';
  message: string;
  result:
    | StatusEvent
    | ProgressEvent
    | LogEvent
    | MemoryEvent
    | TaskRunInfoEvent
    | SystemEvent
    | DownloadProgressEvent
    | ModelDownloadDoneEvent
    | ErrorEvent;
}
/**
 * A lifecycle transition (or, with ``snapshot``, the state a client binding now should know).
 */
export interface StatusEvent {
  type: 'status';
  task_id: string;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  state: TaskState;
  name: string;
  priority: number | null;
  error: string | null;
  worker_pid: number | null;
  cancel_requested: boolean;
  /**
   * the task's batch (POST queue/batch), or null
   */
  batch_id: string | null;
  /**
   * sent on bind, not a new transition
   */
  snapshot: boolean;
}
export interface ProgressEvent {
  type: 'progress';
  task_id: string;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  /**
   * iterations (frames) finished
   */
  done: number;
  total: number;
  /**
   * upstream's field, by node name_
   */
  detail: {
    [k: string]: NodeStatus;
  };
  /**
   * done/total by node name_
   */
  nodes: {
    [k: string]: NodeProgress;
  };
}
/**
 * nndeploy's per-node run status: ``time`` is -1 while INITING, the init time once INITED, then the
 * average run time (ms).
 */
export interface NodeStatus {
  time: number;
  /**
   * IDLE | INITING | INITED | RUNNING | DONE
   */
  status: string;
}
export interface NodeProgress {
  /**
   * runs the node has finished
   */
  done: number;
  total: number;
  status: string;
}
/**
 * One line a worker printed (Python or C++) while it ran the task.
 */
export interface LogEvent {
  type: 'log';
  task_id: string;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  log: string;
}
/**
 * Upstream's completion pair, first half: the small String/Num/Bool outputs.
 */
export interface MemoryEvent {
  type: 'memory';
  task_id: string;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  content: {
    [k: string]: string;
  };
}
/**
 * The last event of a task: how it ended (upstream's completion signal).
 */
export interface TaskRunInfoEvent {
  type: 'task_run_info';
  task_id: string;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  state: TaskState;
  error: string | null;
  time_profile: TimeProfile;
  outputs: OutputFile[];
}
/**
 * Milliseconds. Empty (``{}``) for a task that never ran; nndeploy's frontend reads ``init_time`` and
 * ``run_time``.
 */
export interface TimeProfile {
  init_time?: number | null;
  run_time?: number | null;
  nodes?: {
    [k: string]: NodeTime;
  } | null;
}
export interface NodeTime {
  init_time: number;
  average_time: number;
  runs: number;
}
/**
 * A file an Output node wrote during the run (checked to exist and to be fresh).
 */
export interface OutputFile {
  node: string;
  /**
   * absolute path on the server
   */
  path: string;
  size: number;
  /**
   * the task did not succeed: the file may be incomplete
   */
  partial: boolean;
}
/**
 * A server-wide event (``task_id`` null), e.g. ``queue_flushed``.
 */
export interface SystemEvent {
  type: 'system';
  task_id: string | null;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  event: string;
  detail: {
    [k: string]: unknown;
  };
}
export interface ModelDownloadDoneEvent {
  type: 'model_download_done';
  task_id: string;
  /**
   * monotonic across the server's lifetime, restarts included
   */
  seq: number;
  /**
   * epoch seconds
   */
  ts: number;
  /**
   * {"<field>.<index>": "resources/..."} of the files fetched
   */
  detail: {
    [k: string]: string;
  };
  error: string | null;
}
/**
 * nndeploy's ``file_info``.
 */
export interface FileInfo {
  filename: string;
  /**
   * resources/..., as graphs name files
   */
  saved_path: string;
  size: number;
  /**
   * ISO 8601
   */
  uploaded_at: string;
  extension: string;
}
/**
 * One entry of the resources tree (a flat list; ``parentId`` links it to its folder).
 */
export interface FileNode {
  id: string;
  name: string;
  parentId: string;
  type: 'branch' | 'leaf';
  path: string;
  file_info: FileInfo;
}
export interface Flushed {
  /**
   * ids of the pending tasks the flush cancelled
   */
  cancelled: string[];
}
export interface History {
  /**
   * ended tasks, newest first
   */
  items: TaskRecord[];
  /**
   * ended tasks kept (at most history_limit)
   */
  total: number;
}
/**
 * One task, as ``GET queue/{id}``, ``queue/info`` and ``queue/history`` answer it.
 */
export interface TaskRecord {
  task_id: string;
  state: TaskState;
  priority: number;
  /**
   * the graph's name_
   */
  name: string;
  /**
   * 'workflow:<id>' or 'template:<id>' when queued by id
   */
  source: string | null;
  params: {
    [k: string]: {
      [k: string]: unknown;
    };
  } | null;
  /**
   * epoch seconds
   */
  ts_submit: number;
  ts_dispatch: number | null;
  ts_start: number | null;
  ts_finish: number | null;
  worker_pid: number | null;
  /**
   * why it failed, was cancelled or interrupted, in words
   */
  error: string | null;
  time_profile: TimeProfile;
  /**
   * small String/Num/Bool outputs by consumer node name
   */
  values: {
    [k: string]: string;
  };
  outputs: OutputFile[];
  /**
   * a cancel was asked for; the end follows on the socket
   */
  cancel_requested: boolean;
  /**
   * the batch it was submitted with (POST queue/batch), or null
   */
  batch_id: string | null;
}
export interface PluginUploaded {
  filename: string;
  saved_path: string;
  size: number;
  extension: string;
  uploaded_at: string;
  /**
   * why the plugin does not load; null when it loads
   */
  plugin_error: string | null;
}
/**
 * Tasks in flight, each list in the order they run.
 */
export interface QueueInfo {
  running: TaskRecord[];
  dispatched: TaskRecord[];
  pending: TaskRecord[];
}
/**
 * Run a saved workflow, a template or a graph given inline, with parameter overrides.
 */
export interface QueueRequest {
  workflow_id: string | null;
  template_id: string | null;
  graph: {
    [k: string]: unknown;
  } | null;
  /**
   * {"<node name_>": {"<key>": value}}
   */
  params: {
    [k: string]: {
      [k: string]: unknown;
    };
  };
  /**
   * lower numbers run first, then submission order
   */
  priority: number;
  /**
   * fetch the graph's *_url_ resources first, as part of the task
   */
  download: boolean;
}
/**
 * nndeploy's save body: no ``id`` creates a workflow, an ``id`` updates (or renames) that one.
 */
export interface SaveRequest {
  id: string | null;
  /**
   * the graph, as an object or as JSON text
   */
  businessContent:
    | {
        [k: string]: unknown;
      }
    | string;
}
export interface Saved {
  id: string;
}
/**
 * ``GET server``: which server extension answers, and how its tasks run.
 */
export interface ServerInfo {
  /**
   * nndeploy_jupyter's version
   */
  version: string;
  /**
   * nndeploy's, when it is installed
   */
  nndeploy_version: string | null;
  /**
   * the executor class
   */
  executor: string;
  max_workers: number;
  workers: WorkerInfo[];
  /**
   * why tasks cannot run now, or null
   */
  unavailable: string | null;
}
/**
 * One worker of the executor.
 */
export interface WorkerInfo {
  /**
   * the executor's name for it (a slot number, a Dask worker address)
   */
  id: string;
  state: WorkerState;
  pid: number | null;
  /**
   * the task it runs, while BUSY
   */
  task_id: string | null;
}
export interface TaskCreated {
  task_id: string;
}
export interface TemplateSummary {
  id: string;
  name_: string;
  developer_: string;
  source_: string;
  desc_: string;
  /**
   * absolute path of the cover image (GET preview shows it)
   */
  cover_: string | null;
  /**
   * the template's readme (markdown)
   */
  requirements_: string | null;
  category_: string | null;
}
export interface WorkflowSummary {
  id: string;
  name_: string;
  developer_: string;
  desc_: string;
  /**
   * its file in resources/workflow/
   */
  filename: string;
  updated_at: number;
}
export interface WorkflowUploaded {
  id: string;
  filename: string;
  size: number;
}
