export { IdGenerator, parseId, ID_EPOCH_MS } from './snowflake.js';
export type { Clock, IdGeneratorOptions, ParsedId } from './snowflake.js';
