import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Check, Copy } from 'lucide-react';
import { Button } from './ui/Button';

/** Copies `value` to the clipboard and confirms in place. */
export function CopyButton({ value }: { value: string }) {
  const { t } = useTranslation();
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      setState('failed');
    }
    window.setTimeout(() => setState('idle'), 2500);
  };
  return (
    <Button size="sm" icon={state === 'copied' ? <Check size={15} aria-hidden /> : <Copy size={15} aria-hidden />} onClick={() => void copy()}>
      {state === 'copied' ? t('common.copied') : state === 'failed' ? t('common.copyFailed') : t('common.copy')}
    </Button>
  );
}
