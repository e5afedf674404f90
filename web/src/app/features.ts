import type { FeatureModule, NavItem } from '../shared/feature';
import { homeFeature } from '../features/home';
import { teamFeature } from '../features/team';
import { auditFeature } from '../features/audit';
import { settingsFeature } from '../features/settings';
import { metaFeature } from '../features/meta';
import { leadsFeature } from '../features/leads';
import { pipelineFeature } from '../features/pipeline';
import { marketingFeature } from '../features/marketing';
import { hsmFeature } from '../features/hsm';
import { accountFeature } from '../features/account';

/**
 * Every feature of the app, in sidebar order. Adding a feature (leads,
 * pipeline, marketing, hsm, ...) is one entry here: its routes are mounted in
 * the authenticated layout and its nav items appear when the session has the
 * permission they name.
 */
export const FEATURES: FeatureModule[] = [homeFeature, leadsFeature, pipelineFeature, marketingFeature, hsmFeature, teamFeature, auditFeature, settingsFeature, metaFeature, accountFeature];

export const ALL_NAV: NavItem[] = FEATURES.flatMap((f) => f.nav);

/** Banners features show above every page (each decides itself whether to render). */
export const ALL_BANNERS = FEATURES.flatMap((f) => (f.banner ? [f.banner] : []));
