/**
 * keel-lab: the BN lab, a web page where a learner trains two networks side by side and watches
 * what batch normalization does. The page itself is built into dist/site/ (build.mjs); this entry
 * point gives Node code (the `keel lab` command) its folder, and the page's settings type.
 */
export { siteDirectory } from './node/site.js';
export * from './state.js';
