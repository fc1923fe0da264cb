/**
 * Initializers to and from their Keras/TF.js JSON form, `{class_name, config}` with snake_case
 * values, as they appear inside a layer's config (`kernel_initializer`...). Pure: no file system.
 */
import { KeelError, ModelFormatError } from '../core/errors.js';
import * as init from '../initializers/index.js';
import type { Initializer } from '../initializers/index.js';
import { describe, integer, number, object, string } from './serializationChecks.js';

export interface InitializerJSON {
  class_name: string;
  config: Record<string, unknown>;
}

const MODE_TO_JSON: Record<string, string> = { fanIn: 'fan_in', fanOut: 'fan_out', fanAvg: 'fan_avg' };
const DISTRIBUTION_TO_JSON: Record<string, string> = {
  truncatedNormal: 'truncated_normal', untruncatedNormal: 'untruncated_normal', uniform: 'uniform',
};

/**
 * TF.js's JSON of an initializer, from Keel's `{class_name, config}` (what a layer's `getConfig`
 * holds): the VarianceScaling family is written out as VarianceScaling, as TF.js writes it.
 */
export function initializerToJSON(value: unknown): InitializerJSON {
  const { class_name: className, config } = value as InitializerJSON;
  if ('mode' in config && 'distribution' in config) {
    return {
      class_name: 'VarianceScaling',
      config: {
        scale: config.scale,
        mode: MODE_TO_JSON[config.mode as string] ?? config.mode,
        distribution: DISTRIBUTION_TO_JSON[config.distribution as string] ?? config.distribution,
        seed: null,
      },
    };
  }
  if (className === 'Zeros' || className === 'Ones' || className === 'Constant') return { class_name: className, config: { ...config } };
  return { class_name: className, config: { ...config, seed: null } };
}

const MODE_FROM_JSON: Record<string, string> = { fan_in: 'fanIn', fan_out: 'fanOut', fan_avg: 'fanAvg', fanIn: 'fanIn', fanOut: 'fanOut', fanAvg: 'fanAvg' };
const DISTRIBUTION_FROM_JSON: Record<string, string> = {
  // TF.js and Keras 2 write 'normal' for the truncated normal.
  normal: 'truncatedNormal', truncated_normal: 'truncatedNormal', truncatedNormal: 'truncatedNormal',
  untruncated_normal: 'untruncatedNormal', untruncatedNormal: 'untruncatedNormal', uniform: 'uniform',
};
const NAMED_SCALED: Record<string, (args: { seed?: number }) => Initializer> = {
  GlorotUniform: init.glorotUniform, GlorotNormal: init.glorotNormal, HeNormal: init.heNormal,
  HeUniform: init.heUniform, LecunNormal: init.lecunNormal, LecunUniform: init.lecunUniform,
};

/** Keel's named VarianceScaling initializers by their parameters (Keras's definitions). */
const NAMED_BY_PARAMETERS: Record<string, string> = {
  '1/fanAvg/uniform': 'GlorotUniform', '1/fanAvg/truncatedNormal': 'GlorotNormal', '2/fanIn/truncatedNormal': 'HeNormal',
  '2/fanIn/uniform': 'HeUniform', '1/fanIn/truncatedNormal': 'LecunNormal', '1/fanIn/uniform': 'LecunUniform',
};

/** Validates an untrusted initializer entry (`fallback` when absent or null). Throws ModelFormatError. */
export function initializerFromJSON(value: unknown, where: string, fallback: Initializer): Initializer {
  if (value === undefined || value === null) return fallback;
  const e = object(value, where);
  const className = string(e.class_name, `${where}.class_name`);
  const c = e.config === undefined || e.config === null ? {} : object(e.config, `${where}.config`);
  const seed = typeof c.seed === 'number' ? integer(c.seed, `${where}.config.seed`) : undefined;
  const optionalNumber = (key: string) => (c[key] === undefined ? undefined : number(c[key], `${where}.config.${key}`));
  try {
    switch (className) {
      case 'Zeros': return init.zeros();
      case 'Ones': return init.ones();
      case 'Constant': return init.constant({ value: number(c.value, `${where}.config.value`) });
      case 'RandomNormal': return init.randomNormal({ mean: optionalNumber('mean'), stddev: optionalNumber('stddev'), seed });
      case 'TruncatedNormal': return init.truncatedNormal({ mean: optionalNumber('mean'), stddev: optionalNumber('stddev'), seed });
      case 'RandomUniform': return init.randomUniform({ minval: optionalNumber('minval'), maxval: optionalNumber('maxval'), seed });
      case 'VarianceScaling': {
        const mode = MODE_FROM_JSON[string(c.mode ?? 'fan_in', `${where}.config.mode`)];
        const distribution = DISTRIBUTION_FROM_JSON[string(c.distribution ?? 'truncated_normal', `${where}.config.distribution`)];
        if (!mode || !distribution) {
          throw new ModelFormatError(`${where}.config: expected mode fan_in|fan_out|fan_avg and distribution normal|truncated_normal|untruncated_normal|uniform, received ${describe(c)}.`);
        }
        const scale = optionalNumber('scale') ?? 1;
        // TF.js writes HeNormal & co. as VarianceScaling; recognise them so that configs round-trip.
        const named = NAMED_BY_PARAMETERS[`${scale}/${mode}/${distribution}`];
        if (named) return NAMED_SCALED[named]({ seed });
        return init.varianceScaling({ scale, mode: mode as never, distribution: distribution as never, seed });
      }
      default: {
        const named = NAMED_SCALED[className];
        if (named) return named({ seed });
        throw new ModelFormatError(
          `${where}: unknown initializer class '${className.slice(0, 80)}'. Expected one of Zeros, Ones, Constant, RandomNormal, ` +
            `TruncatedNormal, RandomUniform, VarianceScaling, ${Object.keys(NAMED_SCALED).join(', ')}.`,
        );
      }
    }
  } catch (err) {
    if (err instanceof KeelError && !(err instanceof ModelFormatError)) throw new ModelFormatError(`${where}: ${err.message}`);
    throw err;
  }
}
