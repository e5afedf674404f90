// Names over the generated OpenAPI types used by the leads feature.
import type { components } from '../../../api/schema';

type S = components['schemas'];

export type Lead = S['LeadView'];
export type LeadDetail = S['LeadDetail'];
export type LeadStatus = S['LeadStatus'];
export type LeadSource = S['LeadSource'];
export type Channel = S['Channel'];
export type NewLead = S['NewLead'];
export type LeadPatch = S['LeadPatch'];
export type Touch = S['TouchView'];
export type Activity = S['ActivityView'];
export type Opportunity = S['OpportunityView'];
export type NewOpportunity = S['NewOpportunity'];
export type Sale = S['SaleView'];
export type NewSale = S['NewSale'];
export type SaleStatus = S['SaleStatus'];
export type ImportReport = S['ImportReport'];
export type Stage = S['StageView'];

export const LEAD_STATUSES: readonly LeadStatus[] = ['new', 'contacted', 'qualified', 'unqualified', 'customer', 'lost'];
export const LEAD_SOURCES: readonly LeadSource[] = ['META_ADS', 'ORGANIC', 'WEBSITE', 'REFERRAL', 'IMPORT', 'OTHER'];
export const SALE_STATUSES: readonly SaleStatus[] = ['completed', 'pending', 'failed'];
